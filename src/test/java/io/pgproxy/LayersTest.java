package io.pgproxy;

import com.tngtech.archunit.core.domain.Dependency;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.core.importer.Location;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Set;
import java.util.TreeSet;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The package layering of DESIGN.md §3: each package uses only itself and the packages below it, so
 * the codec knows nothing of pools, pools never parse frames, and only config touches typesafe-config.
 * "Uses" is any dependency in the bytecode (a call, a field or parameter type, an annotation), not only
 * an import line.
 */
class LayersTest {

    /**
     * Bottom up; a layer may use its own packages and those of the layers before it. protocol.message is
     * part of protocol; admin and metrics are one layer. The root package (Main) comes last. Layers
     * without classes yet (tls, failover, admin, metrics) hold their place for when they arrive.
     */
    private static final List<List<String>> LAYERS = List.of(
            List.of("buffer"),
            List.of("protocol"),
            List.of("config"),
            List.of("auth"),
            List.of("tls"),
            List.of("session"),
            List.of("backend"),
            List.of("pool"),
            List.of("failover"),
            List.of("client"),
            List.of("server"),
            List.of("admin", "metrics"),
            List.of(""));

    /**
     * Upward uses in the code today, origin -> target (top-level classes, e.g.
     * {@code "io.pgproxy.pool.Pool -> io.pgproxy.client.ClientSession"}), to be removed by the relay-core
     * reshape. Empty when this test was written: the code had none. Do not add to it: a new upward use
     * fails this test, and so does an entry that is no longer needed, so the list only shrinks.
     */
    private static final Set<String> ALLOWED = Set.of();

    private static JavaClasses classes;

    @BeforeAll
    static void importMainClasses() {
        // Only where Main was loaded from (target/classes): scanning the whole class path for the
        // package would cost seconds, and test classes are not part of the rule.
        classes = new ClassFileImporter()
                .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .importLocations(Set.of(Location.of(Main.class.getProtectionDomain().getCodeSource().getLocation())));
        assertTrue(classes.contain(Main.class), "the main classes were not found next to " + Main.class);
    }

    @Test
    void everyPackageHasALayer() {
        Set<String> unplaced = new TreeSet<>();
        for (JavaClass c : classes) {
            if (layer(c) < 0) unplaced.add(c.getPackageName());
        }
        assertTrue(unplaced.isEmpty(), "packages missing from LayersTest.LAYERS (and DESIGN.md §3): " + unplaced);
    }

    @Test
    void packagesUseOnlyTheLayersBelowThem() {
        Set<String> upward = new TreeSet<>();
        for (JavaClass origin : classes) {
            for (Dependency d : origin.getDirectDependenciesFromSelf()) {
                JavaClass target = d.getTargetClass().getBaseComponentType();
                if (!target.getPackageName().startsWith("io.pgproxy")) continue;
                if (layer(target) > layer(origin)) {
                    upward.add(topLevel(origin) + " -> " + topLevel(target));
                }
            }
        }
        Set<String> added = new TreeSet<>(upward);
        added.removeAll(ALLOWED);
        assertEquals(Set.of(), added, "classes using a layer above their own (DESIGN.md §3)");
        Set<String> gone = new TreeSet<>(ALLOWED);
        gone.removeAll(upward);
        assertEquals(Set.of(), gone, "allowed upward uses that no longer exist: remove them from LayersTest.ALLOWED");
    }

    @Test
    void onlyConfigUsesTypesafeConfig() {
        noClasses().that().resideOutsideOfPackage("io.pgproxy.config..")
                .should().dependOnClassesThat().resideInAPackage("com.typesafe.config..")
                .because("only the config package touches typesafe-config (DESIGN.md §3)")
                .check(classes);
    }

    /** The index in {@link #LAYERS} of the class's package, or -1. */
    private static int layer(JavaClass c) {
        String pkg = c.getPackageName();
        if (!pkg.startsWith("io.pgproxy")) return -1;
        String sub = pkg.equals("io.pgproxy") ? "" : pkg.substring("io.pgproxy.".length());
        for (int i = 0; i < LAYERS.size(); i++) {
            for (String p : LAYERS.get(i)) {
                if (p.isEmpty() ? sub.isEmpty() : sub.equals(p) || sub.startsWith(p + ".")) return i;
            }
        }
        return -1;
    }

    /** Nested and anonymous classes count as the class they are written in. */
    private static String topLevel(JavaClass c) {
        String name = c.getName();
        int nested = name.indexOf('$');
        return nested < 0 ? name : name.substring(0, nested);
    }
}

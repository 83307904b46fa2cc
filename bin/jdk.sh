# Sourced by bin/pgproxy and bin/test: exports JAVA_HOME as a JDK >= 25, or exits with a clear
# message. Looks at $JAVA_HOME first, then the usual install folders.
java_major() { # the major version in a JDK's release file
  sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$1/release" 2>/dev/null
}
find_jdk() {
  local v
  if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then
    v="$(java_major "$JAVA_HOME")"
    if [[ -n "$v" && "$v" -ge 25 ]]; then echo "$JAVA_HOME"; return 0; fi
  fi
  local release dir
  for release in /usr/lib/jvm/*/release /opt/java/*/release /opt/*/release; do
    [[ -f "$release" ]] || continue
    dir="$(dirname "$release")"
    v="$(java_major "$dir")"
    if [[ -x "$dir/bin/java" && -n "$v" && "$v" -ge 25 ]]; then echo "$dir"; return 0; fi
  done
  return 1
}
if ! JAVA_HOME="$(find_jdk)"; then
  echo "pgproxy: needs a JDK 25 or newer; set JAVA_HOME to one (looked in \$JAVA_HOME, /usr/lib/jvm, /opt)" >&2
  exit 1
fi
export JAVA_HOME

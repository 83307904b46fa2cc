package io.pgproxy.session;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Expected values are what PostgreSQL 15 and 17 report after the same SET or startup value. */
class ParameterValuesTest {
    @ParameterizedTest
    @CsvSource(delimiter = '|', quoteCharacter = '"', value = {
            "client_encoding | 'utf-8' | | UTF8",
            "client_encoding | unicode | | UTF8",
            "client_encoding | latin1 | | LATIN1",
            "client_encoding | ISO-8859-1 | | LATIN1",
            "client_encoding | win1252 | | WIN1252",
            "client_encoding | sql_ascii | | SQL_ASCII",
            "client_encoding | no-such-encoding | | no-such-encoding",
            "DateStyle | dmy | ISO, MDY | ISO, DMY",
            "DateStyle | dmy | Postgres, MDY | Postgres, DMY",
            "DateStyle | german | ISO, MDY | German, DMY",
            "DateStyle | german, mdy | ISO, MDY | German, MDY",
            "DateStyle | postgres | ISO, MDY | Postgres, MDY",
            "DateStyle | sql,ymd | ISO, MDY | SQL, YMD",
            "DateStyle | euro | ISO, MDY | ISO, DMY",
            "DateStyle | US | ISO, DMY | ISO, MDY",
            "DateStyle | ISO | ISO, MDY | ISO, MDY",
            "DateStyle | iso, sql | ISO, MDY | iso, sql",
            "IntervalStyle | SQL_STANDARD | | sql_standard",
            "standard_conforming_strings | tr | | on",
            "default_transaction_read_only | OFF | | off",
            "default_transaction_read_only | 0 | | off",
            "application_name | 'x' | | 'x'",
    })
    void valuesAreWrittenAsPostgresReportsThem(String name, String value, String current, String expected) {
        assertEquals(expected, ParameterValues.normalise(name, value, current));
    }
}

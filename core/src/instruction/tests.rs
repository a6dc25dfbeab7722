//! Tests of instruction verification.

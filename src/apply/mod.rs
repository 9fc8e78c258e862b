//! See lib.rs for what this module is.

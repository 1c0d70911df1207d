//! Integration tests of koper-sandbox.

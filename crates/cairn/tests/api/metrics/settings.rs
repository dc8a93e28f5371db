//! Metrics settings over the API.

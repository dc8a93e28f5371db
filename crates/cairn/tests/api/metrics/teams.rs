//! Teams over the API.

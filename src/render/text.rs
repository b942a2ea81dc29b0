//! The terminal plan.

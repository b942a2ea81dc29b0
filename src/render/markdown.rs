//! The PR/MR comment and job summary.

//! The commands, wired from the stages.

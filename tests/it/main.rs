//! The integration tests, in one binary (one link instead of twenty): the binary and the
//! library against the Kestra emulator over real HTTP, wiremock for GitHub and GitLab.
//! Each module is one area; the support modules are shared.

mod common;
mod github_support;
mod gitlab_support;
mod hostile_support;
mod kestra_support;

mod adversarial;
mod cli_contract;
mod copied_examples;
mod corpus;
mod faults;
mod flow_corpus;
mod forge_github;
mod git_source;
mod github_action;
mod gitlab_ci;
mod gitlab_ci_files;
mod gitlab_notes;
mod hostile_output;
mod hostile_server;
mod kestra_client_emulator;
mod kestra_connect;
mod kestra_listing;
mod kestra_validate;
mod kestra_writes;
mod labels;
mod messages;
mod namespace_files;
mod plan_lock;
mod plan_lock_files;
mod plan_lock_github;
mod plan_output;
mod plan_requests;
mod plan_truth;
mod preview;
mod preview_ci;
mod preview_deploy;
mod preview_note;
mod real_kestra;
mod riskier;
mod secrets;
mod source_github;

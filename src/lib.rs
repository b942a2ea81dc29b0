//! kestra-sync: make the flows of a Kestra namespace match a folder of a Git repository,
//! as a reviewed change (plan, then apply), from CI or a laptop.
//!
//! Data flows one way (see `CONTRIBUTING.md`):
//! options -> [`settings::Settings`]; files -> [`source::SourceFile`];
//! parse/check/rewrite -> [`flow::Flow`]; live server -> [`model::RemoteFlow`];
//! desired vs live -> [`plan::Plan`] (pure); plan -> text/markdown/json ([`render`], pure);
//! [`apply`] writes; [`app`] runs each mode once for the terminal, GitHub and GitLab. Only
//! `source`, `kestra`, `forge`, `github_api`, `ci`, `apply` and `app` do I/O.

pub mod app;
pub mod apply;
pub mod ci;
pub mod cli;
pub mod diff;
pub mod flow;
pub mod forge;
pub mod github_api;
pub mod http;
pub mod kestra;
pub mod lock;
pub mod model;
pub mod nsfiles;
pub mod out;
pub mod plan;
pub mod render;
pub mod risk;
pub mod secrets;
pub mod settings;
pub mod source;
pub mod untrusted;

//! `KestraClient`: one per run. Connecting learns the server version and picks the path form;
//! then single-flow reads and the writes (create, update, delete). Listing a scope is in
//! `super::listing`, server validation in `super::validate`. Every request goes through
//! the shared [`crate::http`] client (timeouts, safe retries, no secret in errors).

use std::time::Duration;

use base64::Engine as _;
use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

use super::error::{Login, CHECK_URL};
use super::paths::{detect_tenant, normalize_base, ApiPaths, DEFAULT_TENANT};
use super::{KestraError, RemoteFlow, ServerInfo, Written};
use crate::http::{Backoff, HttpClient, HttpOptions, Idempotency, Reply};

/// How to authenticate. Secrets are [`SecretString`]: they never print.
#[derive(Debug, Clone, Default)]
pub enum Auth {
    #[default]
    None,
    /// HTTP Basic (OSS, mandatory since 0.24; EE accepts it too).
    Basic {
        username: String,
        password: SecretString,
    },
    /// `Authorization: Bearer <api token>` (EE users or service accounts).
    Bearer(SecretString),
}

/// Connection settings for one Kestra server.
#[derive(Debug, Clone)]
pub struct KestraConfig {
    /// Base URL, e.g. `https://kestra.example.com` (a trailing `/`, `/api/v1` or `/ui` is
    /// tolerated).
    pub url: String,
    /// Tenant; `None` = detect (`main` on servers ≥ 0.23, untenanted paths before).
    pub tenant: Option<String>,
    pub auth: Auth,
    /// Timeout of every request.
    pub timeout: Duration,
    /// How many times a transient failure is retried.
    pub retries: u32,
    /// Waits between retries (and the cap on a server's `Retry-After`).
    pub backoff: Backoff,
}

/// A request body.
pub(super) enum Body<'a> {
    None,
    /// `application/x-yaml`: one flow source.
    Yaml(&'a str),
    /// `multipart/form-data`, one part named `flows` per `(filename, source)`.
    FlowParts(&'a [(&'a str, &'a str)]),
    /// `multipart/form-data`, one part named `fileContent`: a namespace file's bytes.
    FileContent(&'a [u8]),
}

/// A connected client; cheap to clone (shares the connection pool).
#[derive(Debug, Clone)]
pub struct KestraClient {
    pub(super) info: ServerInfo,
    pub(super) http: HttpClient,
    pub(super) paths: ApiPaths,
    /// `Authorization` value, marked sensitive (never printed by `Debug`).
    auth: Option<HeaderValue>,
    /// Which credentials `auth` holds, for error hints.
    login: Login,
}

/// The parts of `GET /api/v1/configs` we use.
#[derive(Debug, Deserialize)]
struct Configs {
    version: Option<String>,
    edition: Option<String>,
}

/// The parts of `Flow` / `FlowWithSource` JSON we use.
#[derive(Debug, Deserialize)]
pub(super) struct FlowJson {
    pub id: String,
    pub namespace: String,
    pub revision: Option<u64>,
    pub source: Option<String>,
}

impl KestraClient {
    /// Connect: `GET /api/v1/configs` (untenanted) to learn version/edition and choose the
    /// path form. With `--kestra-tenant` that tenant is used; otherwise `main` on Kestra
    /// ≥ 0.23 (or an unknown version) and the untenanted form on 0.22 and before. When
    /// `/configs` answers 404 (hidden by a proxy), `GET …/flows/search` is tried with tenant
    /// `main`, then untenanted, and the first form that answers is used.
    pub async fn connect(config: KestraConfig) -> Result<Self, KestraError> {
        let root = normalize_base(&config.url)?;
        let http = HttpClient::new(&HttpOptions {
            timeout: config.timeout,
            retries: config.retries,
            backoff: config.backoff,
        })?;
        let mut client = KestraClient {
            info: ServerInfo {
                url: root.as_str().trim_end_matches('/').to_string(),
                ..ServerInfo::default()
            },
            http,
            paths: ApiPaths {
                root: root.clone(),
                tenant: config.tenant.clone(),
            },
            auth: auth_header(&config.auth)?,
            login: match &config.auth {
                Auth::None => Login::None,
                Auth::Basic { username, .. } => Login::Basic {
                    username: username.clone(),
                },
                Auth::Bearer(_) => Login::Token,
            },
        };

        let reply = client
            .send(Method::GET, ApiPaths::configs(&root)?, Body::None)
            .await?;
        match reply.status {
            StatusCode::OK => {
                let configs: Configs = serde_json::from_slice(&reply.body).map_err(|_| {
                    KestraError::Invalid(format!(
                        "no Kestra API at {}: GET /api/v1/configs answered 200 with {}, not Kestra's configuration (JSON); this server is not Kestra, or Kestra is under another path. {CHECK_URL}",
                        client.info.url,
                        reply.header("content-type").map_or("a page".to_string(), |c| format!("a page of type `{}`", c.split(';').next().unwrap_or(c).trim())),
                    ))
                })?;
                client.info.version = configs.version.filter(|v| !v.trim().is_empty());
                client.info.edition = configs.edition;
                if client.paths.tenant.is_none() {
                    client.paths.tenant = detect_tenant(client.info.version.as_deref());
                }
            }
            StatusCode::NOT_FOUND if config.tenant.is_none() => {
                client.paths.tenant = client.probe_path_form(&reply).await?;
            }
            StatusCode::NOT_FOUND => {}
            _ => return Err(client.error(&reply)),
        }
        client.info.tenant = client.paths.tenant.clone();
        tracing::info!(
            "Kestra {} {} at {}, {}",
            client.info.edition.as_deref().unwrap_or(""),
            client
                .info
                .version
                .as_deref()
                .unwrap_or("(version unknown)"),
            client.info.url,
            match &client.info.tenant {
                Some(t) => format!("tenant {t}"),
                None => "untenanted paths".to_string(),
            }
        );
        Ok(client)
    }

    /// `/configs` answered 404: find which flows path answers (tenant `main`, then none).
    async fn probe_path_form(&mut self, configs: &Reply) -> Result<Option<String>, KestraError> {
        for tenant in [Some(DEFAULT_TENANT.to_string()), None] {
            self.paths.tenant = tenant.clone();
            let mut url = self.paths.flows(&["search"])?;
            url.query_pairs_mut()
                .append_pair("page", "1")
                .append_pair("size", "1");
            let reply = self.send(Method::GET, url, Body::None).await?;
            match reply.status {
                StatusCode::OK => return Ok(tenant),
                StatusCode::NOT_FOUND => continue,
                _ => return Err(self.error(&reply)),
            }
        }
        let said = super::error::server_message(
            configs.status,
            configs.header("content-type"),
            &configs.body,
        );
        let said: String = said.chars().take(160).collect();
        Err(KestraError::Invalid(format!(
            "no Kestra API at {}: GET /api/v1/configs answered 404 ({}), and so did the flows search with and without a tenant; this server is not Kestra, or Kestra is under another path. {CHECK_URL}",
            self.info.url,
            said.trim_end_matches('.'),
        )))
    }

    /// The page of `namespace` in the server's UI (the tenant this client uses).
    pub fn ui_namespace_url(&self, namespace: &str) -> Result<String, KestraError> {
        self.paths.ui_namespace(namespace).map(String::from)
    }

    /// What we know about the server (for plan footers).
    pub fn server_info(&self) -> &ServerInfo {
        &self.info
    }

    /// One flow with source, `None` if the server answers 404.
    pub async fn get_flow(
        &self,
        namespace: &str,
        id: &str,
    ) -> Result<Option<RemoteFlow>, KestraError> {
        let mut url = self.paths.flows(&[namespace, id])?;
        url.query_pairs_mut().append_pair("source", "true");
        let reply = self.send(Method::GET, url, Body::None).await?;
        match reply.status {
            StatusCode::OK => {}
            StatusCode::NOT_FOUND => return Ok(None),
            _ => return Err(self.error(&reply)),
        }
        let flow: FlowJson = parse_json(&reply)?;
        if flow.namespace != namespace || flow.id != id {
            return Err(KestraError::Protocol {
                url: reply.url.clone(),
                message: format!(
                    "asked for flow {namespace}.{id} and got {}.{}",
                    flow.namespace, flow.id
                ),
            });
        }
        let Some(source) = flow.source else {
            return Err(KestraError::Protocol {
                url: reply.url.clone(),
                message: "the flow has no `source` although source=true was asked".into(),
            });
        };
        Ok(Some(RemoteFlow {
            namespace: flow.namespace,
            id: flow.id,
            source,
            revision: flow.revision,
        }))
    }

    /// `POST /flows` (application/x-yaml). Not idempotent: retried only when the server
    /// surely did not perform it; otherwise [`KestraError::MaybeApplied`] (see
    /// [`crate::http`]).
    pub async fn create(&self, source: &str) -> Result<Written, KestraError> {
        let url = self.paths.flows(&[])?;
        let reply = self
            .send_with(
                Idempotency::NotIdempotent,
                Method::POST,
                url,
                Body::Yaml(source),
            )
            .await?;
        self.written(&reply)
    }

    /// `PUT /flows/{ns}/{id}` (application/x-yaml).
    pub async fn update(
        &self,
        namespace: &str,
        id: &str,
        source: &str,
    ) -> Result<Written, KestraError> {
        let url = self.paths.flows(&[namespace, id])?;
        let reply = self.send(Method::PUT, url, Body::Yaml(source)).await?;
        self.written(&reply)
    }

    /// `DELETE /flows/{ns}/{id}`; `Ok(false)` when it was already gone (404). A retried
    /// delete whose first attempt went through also ends in `Ok(false)`.
    pub async fn delete(&self, namespace: &str, id: &str) -> Result<bool, KestraError> {
        let url = self.paths.flows(&[namespace, id])?;
        let reply = self.send(Method::DELETE, url, Body::None).await?;
        match reply.status {
            StatusCode::NO_CONTENT | StatusCode::OK => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(self.error(&reply)),
        }
    }

    /// The `Written` of a create/update answer (`FlowWithSource`).
    fn written(&self, reply: &Reply) -> Result<Written, KestraError> {
        if !reply.status.is_success() {
            return Err(self.error(reply));
        }
        let flow: FlowJson = parse_json(reply)?;
        Ok(Written {
            namespace: flow.namespace,
            id: flow.id,
            revision: flow.revision,
        })
    }

    /// The error for an unexpected answer.
    pub(super) fn error(&self, reply: &Reply) -> KestraError {
        KestraError::from_reply(reply, &self.login)
    }

    /// An idempotent request (GET, PUT, DELETE, validation).
    pub(super) async fn send(
        &self,
        method: Method,
        url: Url,
        body: Body<'_>,
    ) -> Result<Reply, KestraError> {
        self.send_with(Idempotency::Idempotent, method, url, body)
            .await
    }

    /// An idempotent `GET` whose answer may be up to `max_body` bytes (the export ZIP).
    pub(super) async fn send_limited(
        &self,
        method: Method,
        url: Url,
        max_body: usize,
    ) -> Result<Reply, KestraError> {
        let reply = self
            .http
            .send_limited(Idempotency::Idempotent, max_body, |http| {
                let mut request = http.request(method.clone(), url.clone());
                if let Some(auth) = &self.auth {
                    request = request.header(AUTHORIZATION, auth.clone());
                }
                request
            })
            .await?;
        Ok(reply)
    }

    pub(super) async fn send_with(
        &self,
        idempotency: Idempotency,
        method: Method,
        url: Url,
        body: Body<'_>,
    ) -> Result<Reply, KestraError> {
        let reply = self
            .http
            .send(idempotency, |http| {
                let mut request = http.request(method.clone(), url.clone());
                if let Some(auth) = &self.auth {
                    request = request.header(AUTHORIZATION, auth.clone());
                }
                match &body {
                    Body::None => request,
                    Body::Yaml(source) => request
                        .header(CONTENT_TYPE, HeaderValue::from_static("application/x-yaml"))
                        .body(source.to_string()),
                    Body::FlowParts(parts) => request.multipart(flow_parts(parts)),
                    Body::FileContent(bytes) => request.multipart(file_part(bytes)),
                }
            })
            .await?;
        Ok(reply)
    }
}

/// One multipart form with a part named `flows` per flow, as Kestra's validate endpoint
/// reads them (the filename comes back in each result).
fn flow_parts(parts: &[(&str, &str)]) -> reqwest::multipart::Form {
    let mut form = reqwest::multipart::Form::new();
    for (filename, source) in parts {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/x-yaml"));
        let part = reqwest::multipart::Part::text(source.to_string())
            .file_name(filename.to_string())
            .headers(headers);
        form = form.part("flows", part);
    }
    form
}

/// The multipart form of a namespace-file upload: one part `fileContent`. Its file name
/// is fixed and never ends in `.zip`: the server unpacks a part whose name does, which
/// would turn a user's `data.zip` into the files inside it.
fn file_part(bytes: &[u8]) -> reqwest::multipart::Form {
    let part = reqwest::multipart::Part::bytes(bytes.to_vec())
        .file_name("kestra-sync-upload")
        .mime_str("application/octet-stream")
        .unwrap_or_else(|_| {
            reqwest::multipart::Part::bytes(bytes.to_vec()).file_name("kestra-sync-upload")
        });
    reqwest::multipart::Form::new().part("fileContent", part)
}

/// The `Authorization` header for `auth`, marked sensitive. The only place a secret is
/// exposed.
fn auth_header(auth: &Auth) -> Result<Option<HeaderValue>, KestraError> {
    let value = match auth {
        Auth::None => return Ok(None),
        Auth::Basic { username, password } => {
            let raw = format!("{username}:{}", password.expose_secret());
            let encoded = base64::engine::general_purpose::STANDARD.encode(raw.as_bytes());
            HeaderValue::from_str(&format!("Basic {encoded}"))
        }
        Auth::Bearer(token) => {
            HeaderValue::from_str(&format!("Bearer {}", token.expose_secret().trim()))
        }
    };
    let mut value = value.map_err(|_| {
        KestraError::Invalid(
            "the Kestra API token contains characters that cannot be sent in an HTTP header (a line break?): check --kestra-api-token".into(),
        )
    })?;
    value.set_sensitive(true);
    Ok(Some(value))
}

/// Decode a JSON answer, or say what came instead.
pub(super) fn parse_json<T: serde::de::DeserializeOwned>(reply: &Reply) -> Result<T, KestraError> {
    serde_json::from_slice(&reply.body).map_err(|e| {
        let start = String::from_utf8_lossy(&reply.body);
        let start: String = start.chars().take(120).collect();
        KestraError::Protocol {
            url: reply.url.clone(),
            message: format!("cannot read the JSON answer ({e}); it starts with {start:?}"),
        }
    })
}

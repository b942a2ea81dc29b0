//! The naive client the figures are compared with: what the Terraform provider for Kestra
//! does, one resource at a time with Terraform's default parallelism of 10. Refresh: one
//! `GET /flows/{ns}/{id}?source=true` per flow in the state. Apply: each create (`POST`) or
//! update (`PUT`) is followed by a read-back `GET`, each delete is one `DELETE`; no server
//! validation before the first write. It runs as a child process of the bench (the hidden
//! `naive` subcommand), so its wall time and peak memory are measured the same way.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{bail, Context};
use futures::stream::{self, StreamExt, TryStreamExt};

use crate::workload::{FILE_NAMESPACE, TARGET};

/// Terraform's default `-parallelism`.
pub const PARALLELISM: usize = 10;

type Key = (String, String);

/// Desired flows from the workspace: `(namespace, id) -> source` with the namespace set as
/// the folder says (a plain line replacement: the generated files have one such line).
fn desired(workspace: &Path) -> anyhow::Result<BTreeMap<Key, String>> {
    let mut out = BTreeMap::new();
    let root = workspace.join("_flows");
    for folder in std::fs::read_dir(&root).with_context(|| format!("{}", root.display()))? {
        let folder = folder?;
        let seg = folder.file_name().to_string_lossy().into_owned();
        for file in std::fs::read_dir(folder.path())? {
            let file = file?;
            let text = std::fs::read_to_string(file.path())?;
            let ns = format!("{TARGET}.{seg}");
            let text = text.replace(
                &format!("\nnamespace: {FILE_NAMESPACE}\n"),
                &format!("\nnamespace: {ns}\n"),
            );
            let id = text
                .lines()
                .find_map(|l| l.strip_prefix("id: "))
                .context("no id line")?
                .to_string();
            out.insert((ns, id), text);
        }
    }
    Ok(out)
}

/// The Terraform state: the flows it manages, `namespace<TAB>id` per line.
fn state(path: &Path) -> anyhow::Result<BTreeSet<Key>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("{}", path.display()))?;
    Ok(text
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(ns, id)| (ns.to_string(), id.to_string()))
        .collect())
}

struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    fn flow_url(&self, ns: &str, id: &str) -> String {
        format!("{}/api/v1/main/flows/{ns}/{id}", self.base)
    }

    /// The stored source, `None` on 404.
    async fn get(&self, key: &Key) -> anyhow::Result<Option<String>> {
        let resp = self
            .http
            .get(format!("{}?source=true", self.flow_url(&key.0, &key.1)))
            .send()
            .await?;
        if resp.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !resp.status().is_success() {
            bail!("GET {}/{}: {}", key.0, key.1, resp.status());
        }
        let v: serde_json::Value = serde_json::from_slice(&resp.bytes().await?)?;
        Ok(v.get("source").and_then(|s| s.as_str()).map(str::to_string))
    }

    async fn write(&self, key: &Key, source: &str, create: bool) -> anyhow::Result<()> {
        let req = if create {
            self.http.post(format!("{}/api/v1/main/flows", self.base))
        } else {
            self.http.put(self.flow_url(&key.0, &key.1))
        };
        let resp = req
            .header("content-type", "application/x-yaml")
            .body(source.to_string())
            .send()
            .await?;
        if !resp.status().is_success() {
            bail!("write {}/{}: {}", key.0, key.1, resp.status());
        }
        // Terraform reads every resource back after writing it.
        self.get(key).await?;
        Ok(())
    }

    async fn delete(&self, key: &Key) -> anyhow::Result<()> {
        let resp = self
            .http
            .delete(self.flow_url(&key.0, &key.1))
            .send()
            .await?;
        if !resp.status().is_success() {
            bail!("DELETE {}/{}: {}", key.0, key.1, resp.status());
        }
        Ok(())
    }
}

/// Plan (and with `apply`, apply) like the Terraform provider; prints a JSON summary.
pub async fn run(
    url: &str,
    workspace: &Path,
    state_file: &Path,
    apply: bool,
) -> anyhow::Result<()> {
    let want = desired(workspace)?;
    let known = state(state_file)?;
    let api = Api {
        http: reqwest::Client::new(),
        base: url.trim_end_matches('/').to_string(),
    };
    // refresh: one GET per managed flow, ten at a time
    let live: Vec<(Key, Option<String>)> = stream::iter(known.iter().cloned())
        .map(|k| {
            let api = &api;
            async move { api.get(&k).await.map(|s| (k, s)) }
        })
        .buffer_unordered(PARALLELISM)
        .try_collect()
        .await?;
    let live: BTreeMap<Key, Option<String>> = live.into_iter().collect();
    let mut creates = Vec::new();
    let mut updates = Vec::new();
    let mut unchanged = 0usize;
    for (k, src) in &want {
        match live.get(k) {
            None | Some(None) => creates.push((k.clone(), src.clone())),
            Some(Some(s)) if s == src => unchanged += 1,
            Some(Some(_)) => updates.push((k.clone(), src.clone())),
        }
    }
    let deletes: Vec<Key> = known
        .iter()
        .filter(|k| !want.contains_key(*k) && matches!(live.get(*k), Some(Some(_))))
        .cloned()
        .collect();
    if apply {
        let writes = creates
            .iter()
            .map(|(k, s)| (k, s, true))
            .chain(updates.iter().map(|(k, s)| (k, s, false)));
        stream::iter(writes)
            .map(|(k, s, create)| {
                let api = &api;
                async move { api.write(k, s, create).await }
            })
            .buffer_unordered(PARALLELISM)
            .try_collect::<Vec<()>>()
            .await?;
        stream::iter(deletes.iter())
            .map(|k| {
                let api = &api;
                async move { api.delete(k).await }
            })
            .buffer_unordered(PARALLELISM)
            .try_collect::<Vec<()>>()
            .await?;
    }
    println!(
        "{}",
        serde_json::json!({"summary": {
            "added": creates.len(), "updated": updates.len(),
            "unchanged": unchanged, "deleted": deletes.len()
        }})
    );
    Ok(())
}

//! `kestra-sync preview apply | destroy | sweep` on a terminal or in any CI: the
//! [`super::preview`] operations, their outcome printed on stdout (plan, report, notes),
//! problems and errors on stderr like every other command.

use super::modes::{fail, failed};
use super::pipeline;
use super::preview::{self, Forge};
use super::preview_ci;
use super::preview_deploy;
use super::preview_note;
use super::report::{Level, Reporter};
use super::terminal::Terminal;
use super::Exit;
use crate::cli::PreviewCommand;
use crate::render::preview::Section;
use crate::settings::Settings;
use crate::untrusted::visible_line;

/// Run a `preview` command with its settings (validated once, by the caller).
pub async fn run(command: PreviewCommand, settings: Result<Settings, String>) -> Exit {
    let r = &Terminal;
    let settings = match settings {
        Ok(s) => s,
        Err(e) => return fail(r, &e),
    };
    match command {
        PreviewCommand::Apply(args) => apply(r, &settings, args.number).await,
        PreviewCommand::Destroy(args) => destroy(r, &settings, args.number).await,
        PreviewCommand::Sweep(_) => sweep(r, &settings).await,
    }
}

async fn apply(r: &Terminal, settings: &Settings, number: u64) -> Exit {
    let result = async {
        let loaded = pipeline::read_source(settings).await?;
        let flows = pipeline::prepare(settings, &loaded.files)?;
        preview::deploy(settings, number, &flows, loaded.ns_files).await
    }
    .await;
    let deployed = match result {
        Ok(d) => d,
        Err(e) => return failed(r, &e),
    };
    let root = deployed.prepared.root.clone();
    let link = deployed.planned.client.ui_namespace_url(&root);
    let o = preview_ci::outcome(settings, number, deployed);
    r.product(&o.plan_text);
    if let Some(report) = &o.report {
        r.product(&crate::render::text::render_report(report, settings.color));
    }
    r.product(&preview::notes_text(&o.root, o.flows, &o.notes));
    let step = match link {
        Ok(url) => {
            r.product(&format!("Preview `{root}` in the Kestra UI: {url}\n"));
            preview_deploy::after_apply(number, &root, &url, &settings.http, None).await
        }
        Err(e) => preview_deploy::Step::Failed(format!("no Kestra UI link for `{root}`: {e}")),
    };
    show(r, &step);
    // the plan comment's Preview section, as `ci` writes it
    let dep = step.short();
    let at = preview_ci::when(o.at);
    let full = preview_ci::deployed_section(&o, &at, dep.as_deref(), true);
    let short = preview_ci::deployed_section(&o, &at, dep.as_deref(), false);
    note(
        r,
        preview_note::update_from_env(settings, number, &full, &short).await,
    );
    Exit::Ok
}

/// The Preview section's line: a warning when it could not be written (never a failed
/// command).
fn note(r: &Terminal, line: Option<(bool, String)>) {
    match line {
        Some((true, line)) => r.print(Level::Warning, None, &line),
        Some((false, line)) => r.product(&format!("{line}\n")),
        None => {}
    }
}

/// The deployment step's line: a warning when skipped or failed (never a failed command).
fn show(r: &Terminal, step: &preview_deploy::Step) {
    if let Some(line) = step.line() {
        if step.is_warning() {
            r.print(Level::Warning, None, &line);
        } else {
            r.product(&format!("{line}\n"));
        }
    }
}

async fn destroy(r: &Terminal, settings: &Settings, number: u64) -> Exit {
    match preview::destroy(settings, number).await {
        Ok(d) => {
            r.product(&format!(
                "Preview `{}` removed: {} flow(s) deleted.\n",
                d.root,
                d.deleted.len()
            ));
            for (ns, id) in &d.deleted {
                r.product(&format!("  - {ns}/{id}\n"));
            }
            if !d.deleted_files.is_empty() {
                r.product(&format!(
                    "{} namespace file(s) deleted.\n",
                    d.deleted_files.len()
                ));
                for (ns, path) in &d.deleted_files {
                    r.product(&format!("  - {ns}:{}\n", visible_line(path)));
                }
            }
            let step = preview_deploy::after_destroy(number, &settings.http, None).await;
            show(r, &step);
            // the plan comment's Preview section says "removed", as after a `ci` close
            let at = preview_ci::when(std::time::SystemTime::now());
            let dep = step.short();
            let s = Section::Removed {
                root: &d.root,
                deleted: d.deleted.len(),
                files: d.deleted_files.len(),
                at: &at,
                deployment: dep.as_deref(),
            };
            let (full, short) = preview_note::rendered(&s);
            note(
                r,
                preview_note::update_from_env(settings, number, &full, &short).await,
            );
            Exit::Ok
        }
        Err(e) => failed(r, &e),
    }
}

async fn sweep(r: &Terminal, settings: &Settings) -> Exit {
    let forge = match Forge::from_env(settings) {
        Ok(f) => f,
        Err(e) => return failed(r, &e),
    };
    let swept = match preview::sweep(settings, &forge).await {
        Ok(s) => s,
        Err(e) => return failed(r, &e),
    };
    for (number, deleted) in &swept.removed {
        r.product(&format!(
            "#{number}: closed, preview removed ({} flow(s) deleted)\n",
            deleted.len()
        ));
    }
    for step in swept.deployments.values() {
        show(r, step);
    }
    // each removed preview's Preview section says "removed"
    let at = preview_ci::when(std::time::SystemTime::now());
    for (number, deleted) in &swept.removed {
        let Ok(root) = preview::root(settings, *number) else {
            continue;
        };
        let dep = swept.deployments.get(number).and_then(|s| s.short());
        let s = Section::Removed {
            root: &root,
            deleted: deleted.len(),
            files: swept.files.get(number).copied().unwrap_or_default(),
            at: &at,
            deployment: dep.as_deref(),
        };
        let (full, short) = preview_note::rendered(&s);
        note(
            r,
            preview_note::update_on(&forge, settings, *number, &full, &short).await,
        );
    }
    for number in &swept.kept {
        r.product(&format!("#{number}: open, preview kept\n"));
    }
    for number in &swept.unknown {
        r.print(
            Level::Warning,
            None,
            &format!("#{number}: no such pull/merge request here; its preview was kept"),
        );
    }
    for (number, why) in &swept.failed {
        r.print(
            Level::Error,
            None,
            &format!("#{number}: the preview could not be swept: {why}"),
        );
    }
    if swept.failed.is_empty() {
        Exit::Ok
    } else {
        Exit::Error
    }
}

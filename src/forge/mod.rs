//! Forges: the one sticky PR/MR comment on GitHub and GitLab, and what became of it
//! ([`Posted`], the one outcome both give).

pub mod deployments;
pub mod github;
pub mod gitlab;
pub mod labels;

/// What happened to the plan comment (GitHub) or note (GitLab).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Posted {
    Created {
        id: u64,
    },
    Updated {
        id: u64,
    },
    /// Ours already says exactly this: nothing was sent.
    Unchanged {
        id: u64,
    },
    /// Nothing was posted (a token that may not, a fork); `reason` says why and what to do,
    /// as a warning for the log and summary: never a failed job.
    Skipped {
        reason: String,
    },
}

/// The sticky comment after it was written: what became of it, what it said before (ours,
/// found by its marker; `None` the first time) and its web address when the forge gave one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upserted {
    pub posted: Posted,
    pub previous: Option<String>,
    pub url: Option<String>,
}

impl std::fmt::Display for Posted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Posted::Created { id } => write!(f, "created {id}"),
            Posted::Updated { id } => write!(f, "updated {id}"),
            Posted::Unchanged { id } => write!(f, "{id} is up to date"),
            Posted::Skipped { reason } => write!(f, "plan not posted: {reason}"),
        }
    }
}

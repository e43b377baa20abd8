//! Steps 1 and 2: read every legacy message once, check it, and group the
//! valid ones by project (orphans by user), collecting what the projects and
//! file records will say. Nothing is written here.

use std::collections::{BTreeMap, BTreeSet};

use bson::{doc, Document};
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use mongodb::Database;

use domain::documents::Role;
use domain::{FileType, ProjectId, ProjectSlug, UserId, Version};

use super::legacy::{self, FileRef, LegacyMessage};
use crate::progress::Progress;

pub const LEGACY: &str = "chat_messages";

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// The message is not migrated.
    Skipped,
    /// The message is migrated; its S3 reference gets no file record.
    FileSkipped,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Problem {
    pub legacy_id: String,
    pub kind: ProblemKind,
    pub reason: String,
}

/// A project the migration links messages to.
#[derive(Debug, Clone)]
pub struct ProjectPlan {
    pub project_id: ProjectId,
    pub legacy_project_id: Option<String>,
    /// Set for a user's default project of orphaned messages.
    pub orphans_of: Option<UserId>,
    /// The author of its earliest message.
    pub creator: UserId,
    pub first_at: DateTime<Utc>,
    pub last_at: DateTime<Utc>,
    pub name: Option<String>,
    pub first_user_text: Option<(DateTime<Utc>, String)>,
    pub model: Option<(DateTime<Utc>, String)>,
    /// The slug its S3 keys use, if any.
    pub slug_hint: Option<ProjectSlug>,
    pub messages: u64,
}

/// A file record the migration creates.
#[derive(Debug, Clone)]
pub struct FilePlan {
    pub project_id: ProjectId,
    pub file: FileRef,
    pub at: DateTime<Utc>,
    pub uploaded_by: UserId,
    pub ai_model: Option<String>,
    pub legacy_id: String,
}

#[derive(Debug, Default)]
pub struct Analysis {
    pub total: u64,
    pub valid: u64,
    pub orphans: u64,
    pub remapped_users: BTreeSet<String>,
    pub remapped_projects: BTreeSet<String>,
    pub problems: Vec<Problem>,
    pub projects: BTreeMap<ProjectId, ProjectPlan>,
    /// By S3 key.
    pub files: BTreeMap<String, FilePlan>,
}

impl Analysis {
    pub fn skipped(&self) -> impl Iterator<Item = &Problem> {
        self.problems.iter().filter(|p| p.kind == ProblemKind::Skipped)
    }

    pub fn skipped_count(&self) -> u64 {
        self.skipped().count() as u64
    }

    /// The project's input of its highest version, and the outputs of its
    /// highest version with outputs.
    pub fn latest_files(&self, project: &ProjectId) -> (Option<(Version, String)>, Vec<String>) {
        let mine = self.files.values().filter(|f| &f.project_id == project);
        let mut input: Option<(Version, String)> = None;
        let mut outputs: BTreeMap<Version, Vec<String>> = BTreeMap::new();
        for f in mine {
            match f.file.file_type {
                FileType::Input if input.as_ref().is_none_or(|(v, _)| f.file.version > *v) => {
                    input = Some((f.file.version, f.file.s3_url.clone()));
                }
                FileType::Output => outputs.entry(f.file.version).or_default().push(f.file.s3_url.clone()),
                _ => {}
            }
        }
        (
            input,
            outputs.into_iter().next_back().map(|(_, v)| v).unwrap_or_default(),
        )
    }

    fn add(&mut self, m: &LegacyMessage) {
        self.valid += 1;
        if m.project_id.is_none() {
            self.orphans += 1;
        }
        if let Some(u) = &m.legacy_user_id {
            self.remapped_users.insert(u.clone());
        }
        if let Some(p) = &m.legacy_project_id {
            self.remapped_projects.insert(p.clone());
        }
        let target = m.target_project();
        let plan = self.projects.entry(target.clone()).or_insert_with(|| ProjectPlan {
            project_id: target.clone(),
            legacy_project_id: m.legacy_project_id.clone(),
            orphans_of: m.project_id.is_none().then(|| m.user_id.clone()),
            creator: m.user_id.clone(),
            first_at: m.timestamp,
            last_at: m.timestamp,
            name: None,
            first_user_text: None,
            model: None,
            slug_hint: None,
            messages: 0,
        });
        plan.messages += 1;
        if m.timestamp < plan.first_at {
            plan.first_at = m.timestamp;
            plan.creator = m.user_id.clone();
        }
        plan.last_at = plan.last_at.max(m.updated_at).max(m.timestamp);
        if plan.name.is_none() {
            plan.name = m.project_name().map(str::to_owned);
        }
        if m.role == Role::User && plan.first_user_text.as_ref().is_none_or(|(t, _)| m.timestamp < *t) {
            plan.first_user_text = Some((m.timestamp, m.content.clone()));
        }
        if m.role == Role::Assistant {
            if let Some(model) = m.source_model() {
                if plan.model.as_ref().is_none_or(|(t, _)| m.timestamp >= *t) {
                    plan.model = Some((m.timestamp, model.to_owned()));
                }
            }
        }
        match &m.file {
            None => {}
            Some(Err(reason)) => self.problems.push(Problem {
                legacy_id: m.legacy_id.clone(),
                kind: ProblemKind::FileSkipped,
                reason: reason.clone(),
            }),
            Some(Ok(file)) => {
                if plan.slug_hint.is_none() {
                    plan.slug_hint = Some(file.key_kind.slug().clone());
                }
                match self.files.get(&file.key) {
                    Some(existing) if existing.project_id != target => self.problems.push(Problem {
                        legacy_id: m.legacy_id.clone(),
                        kind: ProblemKind::FileSkipped,
                        reason: format!("{} is already referred to by project {}", file.key, existing.project_id),
                    }),
                    Some(_) => {}
                    None => {
                        self.files.insert(
                            file.key.clone(),
                            FilePlan {
                                project_id: target,
                                file: file.clone(),
                                at: m.timestamp,
                                uploaded_by: m.user_id.clone(),
                                ai_model: m.source_model().map(str::to_owned),
                                legacy_id: m.legacy_id.clone(),
                            },
                        );
                    }
                }
            }
        }
    }
}

/// A project name: the legacy `metadata.project_name`, else the first words
/// of its first user message, else a name saying where it came from.
pub fn project_name(plan: &ProjectPlan) -> String {
    if let Some(n) = &plan.name {
        return n.chars().take(200).collect();
    }
    if plan.orphans_of.is_some() {
        return "Legacy chats".into();
    }
    if let Some((_, text)) = &plan.first_user_text {
        let mut name = String::new();
        for word in text.split_whitespace() {
            if !name.is_empty() && name.chars().count() + 1 + word.chars().count() > 60 {
                break;
            }
            if !name.is_empty() {
                name.push(' ');
            }
            name.push_str(word);
        }
        let name: String = name.chars().take(60).collect();
        if !name.is_empty() {
            return name;
        }
    }
    format!(
        "Legacy project {}",
        plan.legacy_project_id.as_deref().unwrap_or(plan.project_id.as_str())
    )
}

/// Steps 1 and 2: every legacy message, checked and grouped.
pub async fn analyse(db: &Database) -> mongodb::error::Result<Analysis> {
    let coll = db.collection::<Document>(LEGACY);
    let total = coll.count_documents(doc! {}).await?;
    let mut progress = Progress::new("analysing chat_messages", total);
    let mut analysis = Analysis::default();
    let mut cursor = coll.find(doc! {}).sort(doc! { "_id": 1 }).await?;
    while let Some(d) = cursor.try_next().await? {
        analysis.total += 1;
        match legacy::parse(&d) {
            Ok(m) => analysis.add(&m),
            Err(reason) => analysis.problems.push(Problem {
                legacy_id: legacy::legacy_id(&d).unwrap_or_else(|| "?".into()),
                kind: ProblemKind::Skipped,
                reason,
            }),
        }
        progress.add(1);
    }
    progress.finish();
    Ok(analysis)
}

//! Exercise versions: immutable, keyed by content hash; `exercises` points at the live one.

use super::{Store, now_ms, rfc3339};
use crate::domain::{ResolvedExercise, StoredVersion};
use sqlx::Row;
use std::collections::BTreeMap;

impl Store {
    /// Stores a validated version (`version` is the package's content hash, `files` its
    /// files by path) and makes it live. Re-uploading the same content is a no-op that
    /// keeps the version; returns whether a new version was created.
    pub async fn save_version(
        &self,
        version: &str,
        files: &BTreeMap<String, Vec<u8>>,
        exercise: &ResolvedExercise,
        report: &impl serde::Serialize,
    ) -> anyhow::Result<bool> {
        let now = now_ms();
        let mut transaction = self.writer.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO exercise_versions (version, slug, resolved, report, created_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (version) DO NOTHING",
        )
        .bind(version)
        .bind(exercise.slug.as_str())
        .bind(serde_json::to_string(exercise)?)
        .bind(serde_json::to_string(report)?)
        .bind(now)
        .execute(&mut *transaction)
        .await?
        .rows_affected()
            == 1;
        if inserted {
            for (path, content) in files {
                sqlx::query(
                    "INSERT INTO exercise_files (version, path, content) VALUES ($1, $2, $3)",
                )
                .bind(version)
                .bind(path)
                .bind(content.clone())
                .execute(&mut *transaction)
                .await?;
            }
        }
        sqlx::query(
            "INSERT INTO exercises (slug, current_version, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (slug) DO UPDATE SET current_version = excluded.current_version, updated_at = excluded.updated_at",
        )
        .bind(exercise.slug.as_str())
        .bind(version)
        .bind(now)
        .execute(&mut *transaction)
        .await?;
        transaction.commit().await?;
        Ok(inserted)
    }

    /// The live version of an exercise.
    pub async fn current_version(&self, slug: &str) -> Result<Option<StoredVersion>, sqlx::Error> {
        let row = sqlx::query("SELECT current_version FROM exercises WHERE slug = $1")
            .bind(slug)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(row) => self.version(&row.get::<String, _>("current_version")).await,
            None => Ok(None),
        }
    }

    /// One version by its hash. Versions are immutable, so they are cached in memory.
    pub async fn version(&self, version: &str) -> Result<Option<StoredVersion>, sqlx::Error> {
        if let Some(stored) = self.versions.lock().expect("version cache").get(version) {
            return Ok(Some(stored.clone()));
        }
        let row = sqlx::query(
            "SELECT version, resolved, created_at FROM exercise_versions WHERE version = $1",
        )
        .bind(version)
        .fetch_optional(&self.pool)
        .await?;
        let stored = row.map(stored_version).transpose()?;
        if let Some(stored) = &stored {
            let mut cache = self.versions.lock().expect("version cache");
            if cache.len() >= 1024 {
                cache.clear();
            }
            cache.insert(stored.version.clone(), stored.clone());
        }
        Ok(stored)
    }

    /// Every live exercise, by slug.
    pub async fn list_exercises(&self) -> Result<Vec<StoredVersion>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT v.version, v.resolved, v.created_at FROM exercises e \
             JOIN exercise_versions v ON v.version = e.current_version ORDER BY e.slug",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(stored_version).collect()
    }

    /// Every version of one exercise, newest first.
    pub async fn list_versions(&self, slug: &str) -> Result<Vec<StoredVersion>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT version, resolved, created_at FROM exercise_versions WHERE slug = $1 ORDER BY created_at DESC",
        )
        .bind(slug)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(stored_version).collect()
    }

    /// The files of a version under `folder/` (e.g. `starter`), folder prefix removed.
    pub async fn version_files(
        &self,
        version: &str,
        folder: &str,
    ) -> Result<BTreeMap<String, Vec<u8>>, sqlx::Error> {
        let prefix = format!("{folder}/");
        let rows = sqlx::query(
            "SELECT path, content FROM exercise_files WHERE version = $1 AND path LIKE $2 ORDER BY path",
        )
        .bind(version)
        .bind(format!("{prefix}%"))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .filter_map(|row| {
                let path: String = row.get("path");
                let rest = path.strip_prefix(&prefix)?.to_string();
                Some((rest, row.get::<Vec<u8>, _>("content")))
            })
            .collect())
    }

    /// One file of a version.
    pub async fn version_file(
        &self,
        version: &str,
        path: &str,
    ) -> Result<Option<Vec<u8>>, sqlx::Error> {
        let row =
            sqlx::query("SELECT content FROM exercise_files WHERE version = $1 AND path = $2")
                .bind(version)
                .bind(path)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|row| row.get("content")))
    }
}

fn stored_version(row: sqlx::any::AnyRow) -> Result<StoredVersion, sqlx::Error> {
    let resolved: String = row.get("resolved");
    let exercise =
        serde_json::from_str(&resolved).map_err(|error| sqlx::Error::Decode(Box::new(error)))?;
    Ok(StoredVersion {
        version: row.get("version"),
        exercise,
        created_at: rfc3339(row.get("created_at")),
    })
}

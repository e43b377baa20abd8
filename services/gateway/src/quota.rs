//! Per-user quotas, checked before a job is accepted: jobs in flight, jobs
//! per hour and stored bytes (see [`QuotaSettings`]). The rate limiter
//! bounds requests; this bounds the work one user can queue and keep.

use chrono::{Duration, Utc};
use domain::documents::UserRole;

use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult};
use crate::settings::QuotaSettings;
use crate::startup::AppState;

/// How long a user over the in-flight limit is told to wait: about one
/// simple job.
const IN_FLIGHT_RETRY_SECS: u64 = 10;

const MIB: u64 = 1024 * 1024;

/// Admits one more job for `user`, or says which quota it would pass.
pub async fn admit(state: &AppState, user: &AuthUser) -> ApiResult<()> {
    let QuotaSettings {
        jobs_in_flight,
        jobs_per_hour,
        storage_bytes,
    } = state.quota;
    if user.role == UserRole::Admin {
        return Ok(());
    }
    let jobs = state.db.jobs();
    if jobs_in_flight > 0 {
        let live = jobs.count_live_by_user(&user.user_id).await?;
        if live >= jobs_in_flight {
            return Err(ApiError::quota(
                format!("you have {live} jobs in flight, the most one account may have; try again when one finishes"),
                Some(IN_FLIGHT_RETRY_SECS),
            ));
        }
    }
    if jobs_per_hour > 0 {
        let now = Utc::now();
        let (started, oldest) = jobs.started_since(&user.user_id, now - Duration::hours(1)).await?;
        if started >= jobs_per_hour {
            let frees = oldest.map_or(60, |t| (t + Duration::hours(1) - now).num_seconds().max(1) as u64);
            return Err(ApiError::quota(
                format!(
                    "you started {started} jobs in the last hour, the most one account may; a place frees in {frees} s"
                ),
                Some(frees),
            ));
        }
    }
    if storage_bytes > 0 {
        let used = state.db.projects().stored_bytes_of_owner(&user.user_id).await?;
        if used >= storage_bytes {
            return Err(ApiError::quota(
                format!(
                    "your projects store {} MiB, the most one account may ({} MiB); delete projects to make room",
                    used.div_ceil(MIB),
                    storage_bytes / MIB
                ),
                None,
            ));
        }
    }
    Ok(())
}

//! The bearer token's claims: issued by the gateway, checked by the gateway
//! and by monitoring. Declared once here.

use bson::serde_helpers::chrono_datetime_as_bson_datetime as bson_dt;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::documents::UserRole;
use crate::{ProjectId, UserId};

/// What a token says about its bearer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: String,
    #[serde(default)]
    pub email: String,
    /// `user` when an outside identity provider does not say.
    #[serde(default = "default_role")]
    pub role: UserRole,
    /// Expiry, seconds since the Unix epoch.
    pub exp: i64,
    /// Issued at, seconds since the Unix epoch.
    #[serde(default)]
    pub iat: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
}

impl Claims {
    pub fn is_admin(&self) -> bool {
        self.role == UserRole::Admin
    }
}

/// A stream ticket: lets one request open one project's live event stream
/// without the long-lived token in its URL (a browser's EventSource cannot
/// send headers, and URLs end up in proxies' and servers' logs). Issued to
/// a signed-in user for a project, redeemed once, valid for
/// [`StreamTicket::LIFETIME_SECS`]. Kept in the database, so any gateway
/// instance redeems what another issued.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamTicket {
    /// 256 random bits, hex.
    pub ticket: String,
    pub user_id: UserId,
    pub email: String,
    pub role: UserRole,
    pub project_id: ProjectId,
    #[serde(with = "bson_dt")]
    pub expires_at: DateTime<Utc>,
}

impl StreamTicket {
    pub const LIFETIME_SECS: i64 = 60;
}

fn default_role() -> UserRole {
    UserRole::User
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_without_a_role_is_a_users() {
        let claims: Claims = serde_json::from_str(r#"{"sub":"user-1","exp":1,"iat":0}"#).unwrap();
        assert_eq!(claims.role, UserRole::User);
        assert!(!claims.is_admin());
        let admin: Claims = serde_json::from_str(r#"{"sub":"user-1","role":"admin","exp":1}"#).unwrap();
        assert!(admin.is_admin());
        assert!(serde_json::from_str::<Claims>(r#"{"sub":"u","role":"root","exp":1}"#).is_err());
    }
}

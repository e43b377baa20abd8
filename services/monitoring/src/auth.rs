//! Admin access: the gateway's JWT (HS256, `JWT_SECRET_KEY`), checked here
//! again so monitoring never trusts the network in front of it.
//!
//! Claims: `sub` (user id), `email`, `role` (`user` | `admin`), `exp`, `iat`.
//! The gateway's keys are read from the same variables: HS256 with
//! `JWT_SECRET_KEY`, or RS256 with `JWT_PUBLIC_KEY_PEM`; `JWT_ISSUER` and
//! `JWT_AUDIENCE` are checked when set. Only that one algorithm is
//! accepted, so an `alg: none` token never passes.

use std::future::{ready, Ready};
use std::time::Duration;

use actix_web::{dev::Payload, web, FromRequest, HttpRequest};
use anyhow::Context as _;
use jsonwebtoken::{decode, Algorithm, DecodingKey, Validation};

use domain::settings::jwt::*;
use platform::config::{EnvReader, Secret};

use crate::error::ApiError;

#[derive(Debug, Clone)]
pub enum JwtKey {
    Hs256(Secret),
    /// The public key, PEM.
    Rs256(String),
}

#[derive(Debug, Clone)]
pub struct JwtSettings {
    pub key: JwtKey,
    pub issuer: Option<String>,
    pub audience: Option<String>,
    pub leeway: Duration,
}

impl JwtSettings {
    /// The JWT settings of `domain::settings::jwt`, checked with the rest
    /// of monitoring's settings.
    pub fn read(env: &mut EnvReader) -> Self {
        let key = match env.pem(&JWT_PUBLIC_KEY_PEM) {
            Some(pem) => JwtKey::Rs256(pem),
            None => JwtKey::Hs256(Secret::new(env.get(&JWT_SECRET_KEY).unwrap_or_default())),
        };
        Self {
            key,
            issuer: env.get(&JWT_ISSUER),
            audience: env.get(&JWT_AUDIENCE),
            leeway: env.secs(&JWT_LEEWAY_SECS),
        }
    }
}

pub use domain::auth::Claims;

/// Verifies tokens.
pub struct Verifier {
    key: DecodingKey,
    validation: Validation,
}

impl Verifier {
    pub fn new(settings: &JwtSettings) -> anyhow::Result<Self> {
        let (key, alg) = match &settings.key {
            JwtKey::Hs256(secret) => (DecodingKey::from_secret(secret.expose().as_bytes()), Algorithm::HS256),
            JwtKey::Rs256(pem) => (
                DecodingKey::from_rsa_pem(pem.as_bytes()).context("JWT_PUBLIC_KEY_PEM is not an RSA public key")?,
                Algorithm::RS256,
            ),
        };
        let mut validation = Validation::new(alg);
        validation.set_required_spec_claims(&["exp", "sub"]);
        validation.leeway = settings.leeway.as_secs();
        if let Some(iss) = &settings.issuer {
            validation.set_issuer(&[iss]);
        }
        match &settings.audience {
            Some(aud) => validation.set_audience(&[aud]),
            None => validation.validate_aud = false,
        }
        Ok(Self { key, validation })
    }

    pub fn verify(&self, token: &str) -> Result<Claims, ApiError> {
        decode::<Claims>(token, &self.key, &self.validation)
            .map(|t| t.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => ApiError::unauthorized("the token has expired"),
                _ => ApiError::unauthorized("the token is not valid"),
            })
    }
}

/// A request made by an administrator; extracting it is the access check.
#[derive(Debug, Clone)]
pub struct Admin(pub Claims);

impl FromRequest for Admin {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(admin(req))
    }
}

fn admin(req: &HttpRequest) -> Result<Admin, ApiError> {
    let verifier = req
        .app_data::<web::Data<Verifier>>()
        .ok_or_else(|| ApiError::unauthorized("no verifier configured"))?;
    let header = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .ok_or_else(|| ApiError::unauthorized("an administrator's bearer token is required"))?;
    let token = header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::unauthorized("expected `Authorization: Bearer <token>`"))?;
    let claims = verifier.verify(token)?;
    if !claims.is_admin() {
        return Err(ApiError::forbidden("monitoring is for administrators"));
    }
    Ok(Admin(claims))
}

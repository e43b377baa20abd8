//! Who is calling: JWTs and password hashes.
//!
//! Tokens are HS256 with `JWT_SECRET_KEY`, or RS256 checked with an identity
//! provider's public key. Exactly one algorithm is accepted (a token signed
//! with any other, `none` included, is refused), `exp` is required and
//! enforced with a small leeway. Passwords are hashed with Argon2id on the
//! blocking pool, never on the request's thread.

use std::future::{ready, Ready};

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm as Argon2Algorithm, Argon2, Params, Version as Argon2Version};
use chrono::Utc;
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};

use domain::documents::UserRole;
use domain::UserId;

use crate::error::ApiError;
use crate::settings::{JwtKeySettings, JwtSettings};
use crate::startup::AppState;

pub use domain::auth::Claims;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("JWT_PUBLIC_KEY_PEM is not an RSA public key: {0}")]
    Public(jsonwebtoken::errors::Error),
    #[error("JWT_PRIVATE_KEY_PEM is not an RSA private key: {0}")]
    Private(jsonwebtoken::errors::Error),
}

/// The keys and rules to issue and check tokens.
pub struct JwtKeys {
    algorithm: Algorithm,
    decoding: DecodingKey,
    encoding: Option<EncodingKey>,
    validation: Validation,
    settings: JwtSettings,
}

impl JwtKeys {
    pub fn new(settings: &JwtSettings) -> Result<Self, KeyError> {
        let (algorithm, decoding, encoding) = match &settings.keys {
            JwtKeySettings::Hs256 { secret } => {
                let bytes = secret.expose().as_bytes();
                (
                    Algorithm::HS256,
                    DecodingKey::from_secret(bytes),
                    Some(EncodingKey::from_secret(bytes)),
                )
            }
            JwtKeySettings::Rs256 {
                public_pem,
                private_pem,
            } => {
                let decoding = DecodingKey::from_rsa_pem(public_pem.as_bytes()).map_err(KeyError::Public)?;
                let encoding = private_pem
                    .as_ref()
                    .map(|p| EncodingKey::from_rsa_pem(p.expose().as_bytes()).map_err(KeyError::Private))
                    .transpose()?;
                (Algorithm::RS256, decoding, encoding)
            }
        };
        let mut validation = Validation::new(algorithm);
        validation.algorithms = vec![algorithm];
        validation.leeway = settings.leeway.as_secs();
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "sub"]);
        if let Some(iss) = &settings.issuer {
            validation.set_issuer(&[iss]);
        }
        match &settings.audience {
            Some(aud) => validation.set_audience(&[aud]),
            None => validation.validate_aud = false,
        }
        Ok(Self {
            algorithm,
            decoding,
            encoding,
            validation,
            settings: settings.clone(),
        })
    }

    /// Whether this gateway can issue tokens (it cannot with only a public key).
    pub fn can_issue(&self) -> bool {
        self.encoding.is_some()
    }

    pub fn expiry_secs(&self) -> u64 {
        self.settings.expiry.as_secs()
    }

    pub fn issue(&self, user: &UserId, email: &str, role: UserRole) -> Option<String> {
        let key = self.encoding.as_ref()?;
        let now = Utc::now().timestamp();
        let claims = Claims {
            sub: user.to_string(),
            email: email.to_owned(),
            role,
            iat: now,
            exp: now + self.settings.expiry.as_secs() as i64,
            iss: self.settings.issuer.clone(),
            aud: self.settings.audience.clone(),
        };
        encode(&Header::new(self.algorithm), &claims, key).ok()
    }

    /// Checks signature, algorithm and expiry; the reason is for the client.
    pub fn verify(&self, token: &str) -> Result<Claims, ApiError> {
        use jsonwebtoken::errors::ErrorKind;
        let data = decode::<Claims>(token, &self.decoding, &self.validation).map_err(|e| {
            let reason = match e.kind() {
                ErrorKind::ExpiredSignature => "the token has expired",
                ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
                    "the token's algorithm is not accepted"
                }
                ErrorKind::ImmatureSignature => "the token is not valid yet",
                ErrorKind::InvalidIssuer | ErrorKind::InvalidAudience => "the token was issued for someone else",
                _ => "the token is invalid",
            };
            ApiError::unauthorized(reason)
        })?;
        Ok(data.claims)
    }
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub user_id: UserId,
    pub email: String,
    pub role: UserRole,
}

impl AuthUser {
    fn from_claims(claims: Claims) -> Result<Self, ApiError> {
        let user_id =
            UserId::parse(&claims.sub).map_err(|_| ApiError::unauthorized("the token's subject is not a user id"))?;
        Ok(Self {
            user_id,
            email: claims.email,
            role: claims.role,
        })
    }
}

fn bearer(req: &HttpRequest) -> Option<&str> {
    let value = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// A ticket as the ticket route makes them (`[0-9a-f]{64}`, the pattern
/// the document gives `?ticket=`).
fn well_formed_ticket(ticket: &str) -> bool {
    ticket.len() == 64 && ticket.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The stream ticket of a live-stream request (`?ticket=`).
fn query_ticket(req: &HttpRequest) -> Option<String> {
    web::Query::<std::collections::HashMap<String, String>>::from_query(req.query_string())
        .ok()
        .and_then(|q| q.get("ticket").cloned())
        .filter(|t| !t.is_empty())
}

fn authenticate(req: &HttpRequest, token: Option<&str>) -> Result<AuthUser, ApiError> {
    let state = req.app_data::<web::Data<AppState>>().ok_or_else(ApiError::internal)?;
    let token = token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::unauthorized("a bearer token is required"))?;
    let user = AuthUser::from_claims(state.jwt.verify(token)?)?;
    state.limiter.check(user.user_id.as_str())?;
    tracing::Span::current().record("user_id", user.user_id.as_str());
    req.extensions_mut().insert(user.clone());
    Ok(user)
}

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(req, bearer(req)))
    }
}

/// The caller of a live stream: a bearer token in the header, or a stream
/// ticket (`?ticket=`, [`StreamTicket`](domain::auth::StreamTicket)),
/// which is redeemed here and is good for its own project only. The
/// long-lived token is never accepted in the URL.
#[derive(Debug, Clone)]
pub struct StreamUser {
    pub user: AuthUser,
    /// The project a ticket was issued for; `None` with a bearer token.
    pub ticket_project: Option<domain::ProjectId>,
}

impl FromRequest for StreamUser {
    type Error = ApiError;
    type Future = futures::future::LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let ticket = query_ticket(req);
        // A ticket is checked for its shape even beside a bearer token: the
        // document declares it, and a malformed one is a client's mistake.
        if ticket.as_deref().is_some_and(|t| !well_formed_ticket(t)) {
            return Box::pin(ready(Err(ApiError::bad_request(
                "ticket",
                "must be the 64 hexadecimal digits the ticket route gave",
            ))));
        }
        if let Some(token) = bearer(req) {
            let user = authenticate(req, Some(token)).map(|user| StreamUser {
                user,
                ticket_project: None,
            });
            return Box::pin(ready(user));
        }
        let req = req.clone();
        Box::pin(async move {
            let ticket = ticket.ok_or_else(|| {
                ApiError::unauthorized("a bearer token, or a stream ticket as `?ticket=`, is required")
            })?;
            let state = req.app_data::<web::Data<AppState>>().ok_or_else(ApiError::internal)?;
            let redeemed = state
                .db
                .stream_tickets()
                .redeem(&ticket)
                .await?
                .ok_or_else(|| ApiError::unauthorized("the stream ticket is unknown, used or expired"))?;
            state.limiter.check(redeemed.user_id.as_str())?;
            tracing::Span::current().record("user_id", redeemed.user_id.as_str());
            let user = AuthUser {
                user_id: redeemed.user_id,
                email: redeemed.email,
                role: redeemed.role,
            };
            req.extensions_mut().insert(user.clone());
            Ok(StreamUser {
                user,
                ticket_project: Some(redeemed.project_id),
            })
        })
    }
}

/// Argon2id with the configured cost.
#[derive(Debug, Clone, Copy)]
pub struct PasswordHashing {
    memory_kib: u32,
    iterations: u32,
}

impl PasswordHashing {
    pub fn new(memory_kib: u32, iterations: u32) -> Self {
        Self { memory_kib, iterations }
    }

    fn argon2(&self) -> Argon2<'static> {
        let params = Params::new(self.memory_kib, self.iterations, 1, None).unwrap_or_default();
        Argon2::new(Argon2Algorithm::Argon2id, Argon2Version::V0x13, params)
    }

    /// A PHC string (`$argon2id$v=19$m=…`), computed off the request thread.
    pub async fn hash(&self, password: String) -> Result<String, ApiError> {
        let argon2 = self.argon2();
        web::block(move || {
            // 16 random bytes (a v4 UUID is drawn from the OS's generator).
            let salt = SaltString::encode_b64(uuid::Uuid::new_v4().as_bytes()).expect("16 bytes make a salt");
            argon2.hash_password(password.as_bytes(), &salt).map(|h| h.to_string())
        })
        .await?
        .map_err(|e| {
            tracing::error!(error = %e, "password hashing failed");
            ApiError::internal()
        })
    }

    /// Whether `password` matches the stored hash (its own parameters apply).
    pub async fn verify(&self, password: String, hash: String) -> Result<bool, ApiError> {
        let argon2 = self.argon2();
        Ok(web::block(move || {
            PasswordHash::new(&hash).is_ok_and(|parsed| argon2.verify_password(password.as_bytes(), &parsed).is_ok())
        })
        .await?)
    }
}

//! Accounts: register, log in, who am I.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Utc;
use serde::Deserialize;

use domain::documents::{User, UserRole};
use domain::UserId;

use super::docs::{openapi_schema, Table};
use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::startup::AppState;
use crate::views::{TokenView, UserView};

pub fn routes(t: &mut Table) {
    t.add::<__path_register, _, _>(register, None);
    t.add::<__path_login, _, _>(login, None);
    t.add::<__path_me, _, _>(me, None);
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    /// Case-insensitive; stored lowercased.
    #[schemars(email, length(max = 254))]
    pub email: String,
    /// 8 to 128 characters.
    #[schemars(length(min = 8, max = 128))]
    pub password: String,
}

openapi_schema!(Request: Credentials);

const MIN_PASSWORD: usize = 8;
const MAX_PASSWORD: usize = 128;

/// A plausible address, lowercased: one `@`, a dot in the domain, no spaces.
fn parse_email(raw: &str) -> ApiResult<String> {
    let email = raw.trim().to_lowercase();
    let ok = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        });
    if ok {
        Ok(email)
    } else {
        Err(ApiError::bad_request("email", "is not a valid email address"))
    }
}

fn check_password(password: &str) -> ApiResult<()> {
    let n = password.chars().count();
    if !(MIN_PASSWORD..=MAX_PASSWORD).contains(&n) {
        return Err(ApiError::bad_request(
            "password",
            format!("must be {MIN_PASSWORD} to {MAX_PASSWORD} characters"),
        ));
    }
    Ok(())
}

/// Sign-in attempts are limited per client address, like API calls per user.
fn limit_by_address(state: &AppState, req: &HttpRequest) -> ApiResult<()> {
    let addr = req.peer_addr().map(|a| a.ip().to_string()).unwrap_or_default();
    state.limiter.check(&format!("addr:{addr}"))
}

fn token(state: &AppState, user: &User) -> ApiResult<TokenView> {
    let access_token = state
        .jwt
        .issue(&user.user_id, &user.email, user.role)
        .ok_or_else(external_accounts)?;
    Ok(TokenView {
        access_token,
        token_type: "bearer".into(),
        expires_in: state.jwt.expiry_secs(),
        user: UserView::from(user),
    })
}

fn external_accounts() -> ApiError {
    ApiError::new(
        StatusCode::NOT_IMPLEMENTED,
        "external_accounts",
        "accounts are managed by the identity provider; sign in there",
    )
}

#[utoipa::path(
    post,
    path = "/api/auth/register",
    tag = "auth",
    summary = "Create an account",
    request_body = Credentials,
    responses(
        (status = 201, description = "The account and a token.", body = TokenView,
            links(("me" = (operation_id = "me", description = "The new account, with `access_token` as the bearer token.")))),
        (status = 409, description = "The email is taken (`conflict`).", body = ErrorBody),
        (status = 429, description = "Too many attempts from this address (`rate_limited`); see `Retry-After`.", body = ErrorBody),
        (status = 501, description = "Accounts live with an outside identity provider (`external_accounts`).", body = ErrorBody),
    ),
)]
async fn register(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<Credentials>,
) -> ApiResult<HttpResponse> {
    limit_by_address(&state, &req)?;
    if !state.jwt.can_issue() {
        return Err(external_accounts());
    }
    let Credentials { email, password } = body.into_inner();
    let email = parse_email(&email)?;
    check_password(&password)?;
    if state.db.users().by_email(&email).await?.is_some() {
        return Err(ApiError::conflict("an account with this email already exists"));
    }
    let password_hash = state.passwords.hash(password).await?;
    let user = User {
        user_id: UserId::generate(),
        email,
        password_hash,
        role: UserRole::User,
        created_at: Utc::now(),
    };
    state.db.users().create(&user).await.map_err(|e| match e {
        platform::mongo::DbError::Duplicate(_) => ApiError::conflict("an account with this email already exists"),
        e => e.into(),
    })?;
    tracing::info!(user_id = %user.user_id, "account created");
    Ok(HttpResponse::Created().json(token(&state, &user)?))
}

#[utoipa::path(
    post,
    path = "/api/auth/login",
    tag = "auth",
    summary = "Log in",
    request_body = Credentials,
    responses(
        (status = 200, description = "A token.", body = TokenView),
        (status = 401, description = "Wrong email or password (`unauthorized`).", body = ErrorBody),
        (status = 429, description = "Too many attempts from this address (`rate_limited`); see `Retry-After`.", body = ErrorBody),
        (status = 501, description = "Accounts live with an outside identity provider (`external_accounts`).", body = ErrorBody),
    ),
)]
async fn login(state: web::Data<AppState>, req: HttpRequest, body: web::Json<Credentials>) -> ApiResult<HttpResponse> {
    limit_by_address(&state, &req)?;
    if !state.jwt.can_issue() {
        return Err(external_accounts());
    }
    let Credentials { email, password } = body.into_inner();
    let refused = || ApiError::unauthorized("wrong email or password");
    let email = parse_email(&email).map_err(|_| refused())?;
    let Some(user) = state.db.users().by_email(&email).await? else {
        return Err(refused());
    };
    if !state.passwords.verify(password, user.password_hash.clone()).await? {
        return Err(refused());
    }
    Ok(HttpResponse::Ok().json(token(&state, &user)?))
}

#[utoipa::path(
    get,
    path = "/api/auth/me",
    tag = "auth",
    summary = "The caller",
    security(("bearer" = [])),
    responses((status = 200, description = "The caller's account.", body = UserView)),
)]
async fn me(state: web::Data<AppState>, user: AuthUser) -> ApiResult<HttpResponse> {
    let view = match state.db.users().get(&user.user_id).await? {
        Some(stored) => UserView::from(&stored),
        // A user of an outside identity provider has no stored account.
        None => UserView {
            user_id: user.user_id.clone(),
            email: user.email.clone(),
            role: match user.role {
                UserRole::Admin => "admin".into(),
                UserRole::User => "user".into(),
            },
            created_at: None,
        },
    };
    Ok(HttpResponse::Ok().json(view))
}

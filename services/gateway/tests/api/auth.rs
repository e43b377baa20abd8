//! Accounts and tokens: registration, login, `me`, and every way a token
//! can be wrong.

use chrono::Utc;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

use crate::helpers::{error, spawn_app, spawn_app_with};

const PUBLIC_PEM: &str = include_str!("keys/test_rs256_public.pem");
const PRIVATE_PEM: &str = include_str!("keys/test_rs256_private.pem");

fn claims(sub: &str, exp_offset: i64) -> Value {
    let now = Utc::now().timestamp();
    json!({ "sub": sub, "email": "x@example.com", "role": "user", "iat": now, "exp": now + exp_offset })
}

fn secret() -> String {
    platform::testkit::stack_vars()
        .get("JWT_SECRET_KEY")
        .cloned()
        .expect("JWT_SECRET_KEY in the stack env")
}

fn hs256(claims: &Value, secret: &[u8]) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret),
    )
    .unwrap()
}

fn b64(bytes: &[u8]) -> String {
    // URL-safe base64 without padding, as JWTs use.
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

#[tokio::test]
async fn register_login_and_me() {
    let app = spawn_app().await;
    let user = app.register().await;
    assert!(user.user_id.starts_with("user-"));

    let me: Value = app
        .get("/api/auth/me", &user)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["email"], user.email.as_str());
    assert_eq!(me["role"], "user");
    assert_eq!(me["user_id"], user.user_id.as_str());

    // Email is case-insensitive.
    let res = app
        .http
        .post(app.url("/api/auth/login"))
        .json(&json!({ "email": user.email.to_uppercase(), "password": user.password }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 3600);
    assert!(body["access_token"].as_str().unwrap().split('.').count() == 3);

    let stored = app.db.users().by_email(&user.email).await.unwrap().unwrap();
    assert!(stored.password_hash.starts_with("$argon2id$"), "argon2id PHC string");
    assert!(!stored.password_hash.contains(&user.password));
    app.cleanup(&[]).await;
}

#[tokio::test]
async fn registration_errors_name_the_field_and_duplicates_conflict() {
    let app = spawn_app().await;
    let user = app.register().await;
    let post = |body: Value| app.http.post(app.url("/api/auth/register")).json(&body).send();

    let res = post(json!({ "email": user.email.to_uppercase(), "password": "another password" }))
        .await
        .unwrap();
    error(res, 409, "conflict").await;
    let msg = error(
        post(json!({ "email": "not-an-email", "password": "long enough" }))
            .await
            .unwrap(),
        400,
        "bad_request",
    )
    .await;
    assert!(msg.starts_with("email"), "{msg}");
    let msg = error(
        post(json!({ "email": "a@b.example", "password": "short" }))
            .await
            .unwrap(),
        400,
        "bad_request",
    )
    .await;
    assert!(msg.starts_with("password"), "{msg}");
    let msg = error(
        post(json!({ "email": "a@b.example" })).await.unwrap(),
        400,
        "bad_request",
    )
    .await;
    assert!(msg.contains("password"), "missing field named: {msg}");
    let res = app
        .http
        .post(app.url("/api/auth/register"))
        .body("email=a")
        .header("content-type", "text/plain")
        .send()
        .await
        .unwrap();
    error(res, 415, "unsupported_media_type").await;
    app.cleanup(&[]).await;
}

#[tokio::test]
async fn wrong_passwords_and_unknown_emails_look_the_same() {
    let app = spawn_app().await;
    let user = app.register().await;
    let login = |email: &str, password: &str| {
        app.http
            .post(app.url("/api/auth/login"))
            .json(&json!({ "email": email, "password": password }))
            .send()
    };
    let a = error(
        login(&user.email, "wrong password!").await.unwrap(),
        401,
        "unauthorized",
    )
    .await;
    let b = error(
        login("nobody@example.com", "wrong password!").await.unwrap(),
        401,
        "unauthorized",
    )
    .await;
    assert_eq!(a, b);
    app.cleanup(&[]).await;
}

#[tokio::test]
async fn bad_tokens_are_refused() {
    let app = spawn_app().await;
    let user = app.register().await;
    let secret = secret();
    let me = |token: String| app.http.get(app.url("/api/auth/me")).bearer_auth(token).send();

    error(
        app.http.get(app.url("/api/auth/me")).send().await.unwrap(),
        401,
        "unauthorized",
    )
    .await;
    error(me("not.a.token".into()).await.unwrap(), 401, "unauthorized").await;
    // Expired beyond the 30 s leeway; within it still good.
    let msg = error(
        me(hs256(&claims(&user.user_id, -120), secret.as_bytes()))
            .await
            .unwrap(),
        401,
        "unauthorized",
    )
    .await;
    assert!(msg.contains("expired"), "{msg}");
    assert_eq!(
        me(hs256(&claims(&user.user_id, -10), secret.as_bytes()))
            .await
            .unwrap()
            .status(),
        200
    );
    // Another key.
    error(
        me(hs256(
            &claims(&user.user_id, 600),
            b"another secret that is long enough!!",
        ))
        .await
        .unwrap(),
        401,
        "unauthorized",
    )
    .await;
    // No exp at all.
    let mut no_exp = claims(&user.user_id, 600);
    no_exp.as_object_mut().unwrap().remove("exp");
    error(
        me(hs256(&no_exp, secret.as_bytes())).await.unwrap(),
        401,
        "unauthorized",
    )
    .await;
    // alg: none, unsigned.
    let none = format!(
        "{}.{}.",
        b64(br#"{"alg":"none","typ":"JWT"}"#),
        b64(claims(&user.user_id, 600).to_string().as_bytes())
    );
    error(me(none).await.unwrap(), 401, "unauthorized").await;
    // Another algorithm of the same family.
    let hs512 = encode(
        &Header::new(Algorithm::HS512),
        &claims(&user.user_id, 600),
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap();
    error(me(hs512).await.unwrap(), 401, "unauthorized").await;
    // A subject that is not a user id.
    error(
        me(hs256(&claims("admin", 600), secret.as_bytes())).await.unwrap(),
        401,
        "unauthorized",
    )
    .await;
    app.cleanup(&[]).await;
}

#[tokio::test]
async fn rs256_with_an_outside_identity_provider() {
    let app = spawn_app_with(&[("JWT_PUBLIC_KEY_PEM", PUBLIC_PEM)]).await;
    let sub = domain::UserId::generate().to_string();
    let me = |token: String| app.http.get(app.url("/api/auth/me")).bearer_auth(token).send();

    let good = encode(
        &Header::new(Algorithm::RS256),
        &claims(&sub, 600),
        &EncodingKey::from_rsa_pem(PRIVATE_PEM.as_bytes()).unwrap(),
    )
    .unwrap();
    let res = me(good.clone()).await.unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["user_id"], sub.as_str());
    // The projects API works for such a user.
    let res = app
        .http
        .get(app.url("/api/projects/"))
        .bearer_auth(&good)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    // The classic switch: HS256 signed with the public key as the secret.
    let switched = hs256(&claims(&sub, 600), PUBLIC_PEM.as_bytes());
    let msg = error(me(switched).await.unwrap(), 401, "unauthorized").await;
    assert!(msg.contains("algorithm"), "{msg}");
    // Accounts live at the identity provider.
    let res = app
        .http
        .post(app.url("/api/auth/register"))
        .json(&json!({ "email": "a@b.example", "password": "long enough" }))
        .send()
        .await
        .unwrap();
    error(res, 501, "external_accounts").await;
    app.cleanup(&[]).await;
}

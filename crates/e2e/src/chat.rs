//! A chat-completions server for tests: it speaks the real OpenAI
//! protocol on a free port, keeps every request and answers each with
//! whatever the test decides, so the language-model path runs end to end
//! without a model.

use std::sync::{Arc, Mutex};

use actix_web::{web, App, HttpResponse, HttpServer};

/// Every request a fake model got, in order.
pub type Requests = Arc<Mutex<Vec<serde_json::Value>>>;

/// A chat-completions server on a free port: every request is kept and
/// answered by `answer`, with the assistant's text or an HTTP error status
/// and message. Returns its base URL.
pub async fn chat_model<F>(answer: F) -> (String, Requests)
where
    F: Fn(&serde_json::Value) -> Result<String, (u16, String)> + Send + Sync + 'static,
{
    let requests: Requests = Arc::new(Mutex::new(Vec::new()));
    let answer = Arc::new(answer);
    let seen = requests.clone();
    let server = HttpServer::new(move || {
        let seen = seen.clone();
        let answer = answer.clone();
        App::new().route(
            "/v1/chat/completions",
            web::post().to(move |body: web::Json<serde_json::Value>| {
                let seen = seen.clone();
                let answer = answer.clone();
                async move {
                    let body = body.into_inner();
                    let n = {
                        let mut seen = seen.lock().unwrap();
                        seen.push(body.clone());
                        seen.len()
                    };
                    match answer(&body) {
                        Ok(text) => HttpResponse::Ok().json(serde_json::json!({
                            "id": format!("chatcmpl-{n}"),
                            "object": "chat.completion",
                            "created": 1_700_000_000,
                            "model": "local-coder",
                            "choices": [{
                                "index": 0,
                                "message": { "role": "assistant", "content": text },
                                "finish_reason": "stop"
                            }],
                            "usage": { "prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150 }
                        })),
                        Err((status, message)) => {
                            HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).json(
                                serde_json::json!({
                                    "error": { "message": message, "type": "invalid_request_error", "param": null, "code": null }
                                }),
                            )
                        }
                    }
                }
            }),
        )
    })
    .workers(1)
    .bind(("127.0.0.1", 0))
    .unwrap();
    let port = server.addrs()[0].port();
    tokio::spawn(server.run());
    (format!("http://127.0.0.1:{port}/v1"), requests)
}

/// Whether a request asks for a part spec (rather than a script).
pub fn asks_for_spec(request: &serde_json::Value) -> bool {
    request["messages"][0]["content"]
        .as_str()
        .is_some_and(|system| system.contains("part spec"))
}

/// The requests that asked for a script.
pub fn script_requests(requests: &Requests) -> Vec<serde_json::Value> {
    let all = requests.lock().unwrap().clone();
    all.into_iter().filter(|r| !asks_for_spec(r)).collect()
}

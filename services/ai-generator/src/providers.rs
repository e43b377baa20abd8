//! Script providers: the offline template catalogue and OpenAI-compatible
//! chat completions (OpenAI, OpenRouter, Gemini's OpenAI endpoint, Ollama,
//! vLLM), behind one trait.

use std::time::{Duration, Instant};

use async_openai::config::OpenAIConfig;
use async_openai::types::chat::{
    ChatCompletionRequestAssistantMessageArgs, ChatCompletionRequestMessage, ChatCompletionRequestSystemMessageArgs,
    ChatCompletionRequestUserMessageArgs, CreateChatCompletionRequestArgs,
};
use async_openai::Client;
use async_trait::async_trait;

use domain::spec::PartSpec;
use domain::verify::Expectations;
use platform::config::{EnvReader, Secret};

/// The system prompt: what the worker expects of a script.
pub const SYSTEM_PROMPT: &str = r#"You write FreeCAD 0.20 Python scripts that build one solid part from a description.
The script contract:
- Units are millimetres.
- Import only: FreeCAD (as App), Part, Mesh, MeshPart, Sketcher, Draft, math, itertools, functools, collections, typing.
- Get the document with `doc = App.ActiveDocument or App.newDocument("Model")`.
- Put the part's dimensions as named constants at the top, then build shapes with Part (makeBox, makeCylinder, makeSphere, makeCone, extrude, cut, fuse, …).
- Add the final part as one solid: `doc.addObject("Part::Feature", "Part").Shape = shape`, then call `doc.recompute()`.
- Never open, save, export, print or read files; never use os, sys, subprocess, socket, eval, exec, open or __import__. Exporting is done for you.
Answer with the complete script in one ```python fenced block, nothing else."#;

/// One turn of the project's conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct Turn {
    pub from_user: bool,
    pub content: String,
}

/// Everything a provider may use to write a script.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub prompt: String,
    /// Earlier turns of the project, oldest first.
    pub history: Vec<Turn>,
    /// The script of the version to iterate on.
    pub base_script: Option<String>,
    /// The part spec of that version, when it was built from one.
    pub base_spec: Option<PartSpec>,
    /// A script that failed, and why (FreeCAD error or checker findings).
    pub failed: Option<(String, String)>,
}

#[derive(Debug, Clone)]
pub struct Draft {
    pub script: String,
    /// A sentence for the conversation ("Plate 40 × 20 × 10 mm…").
    pub reply: String,
    pub model: String,
    pub prompt_tokens: u32,
    pub completion_tokens: u32,
    pub response_time: Duration,
    /// What the built model must measure, when the provider knows it.
    pub expected: Option<Expectations>,
    /// The part spec the script was compiled from, when there is one.
    pub spec: Option<PartSpec>,
}

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The prompt is outside what the provider can make: the job fails
    /// with this message.
    #[error("{0}")]
    NotUnderstood(String),
    /// The model service failed; worth a retry.
    #[error("AI provider unavailable: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait Provider: Send + Sync {
    /// `template`, `openai`, `openrouter`, …
    fn name(&self) -> &str;
    fn model(&self) -> &str;
    async fn generate(&self, request: &Request) -> Result<Draft, ProviderError>;
}

/// The embedded, offline default.
pub struct Template;

#[async_trait]
impl Provider for Template {
    fn name(&self) -> &str {
        "template"
    }
    fn model(&self) -> &str {
        "catalogue"
    }
    /// A prompt that describes a whole part starts a new one; anything else
    /// in a project with a spec-built version is a follow-up applied to that
    /// version's spec ("make it 15 mm thick", "undo"). A follow-up that
    /// cannot be applied fails with what was understood.
    async fn generate(&self, request: &Request) -> Result<Draft, ProviderError> {
        let started = Instant::now();
        let g = match (cadgen::generate(&request.prompt), &request.base_spec) {
            (Ok(fresh), _) => fresh,
            (Err(_), Some(base)) => cadgen::follow_up(base, &request.prompt).map_err(not_understood)?,
            (Err(e), None) => return Err(not_understood(e)),
        };
        Ok(Draft::compiled(g, started))
    }
}

fn not_understood(e: cadgen::NotUnderstood) -> ProviderError {
    ProviderError::NotUnderstood(e.to_string())
}

impl Draft {
    /// The draft of a part the spec compiler built: its script, the
    /// expectations it states (with their tolerances) and the spec itself.
    pub fn compiled(g: cadgen::Generated, started: Instant) -> Self {
        Draft {
            expected: Some(g.expected),
            spec: Some(g.spec),
            script: g.script,
            reply: g.reply,
            model: "catalogue".into(),
            prompt_tokens: 0,
            completion_tokens: 0,
            response_time: started.elapsed(),
        }
    }
}

/// Chat completions through `async-openai` against any compatible server.
pub struct OpenAiCompatible {
    name: String,
    model: String,
    client: Client<OpenAIConfig>,
}

/// Which OpenAI-compatible service, and how to reach it.
#[derive(Debug, Clone)]
pub struct ChatSettings {
    pub provider: String,
    pub base_url: String,
    pub model: String,
    pub api_key: Option<Secret>,
    pub timeout: Duration,
}

impl ChatSettings {
    /// Reads `AI_PROVIDER`, `AI_MODEL`, `AI_BASE_URL` and the provider's key;
    /// `None` for the template provider.
    pub fn read(env: &mut EnvReader) -> Option<Self> {
        let provider = env
            .optional("AI_PROVIDER")
            .unwrap_or_else(|| "template".into())
            .to_ascii_lowercase();
        let (base, key_var, model): (&str, Option<&str>, &str) = match provider.as_str() {
            "template" => return None,
            "openai" => ("https://api.openai.com/v1", Some("OPENAI_API_KEY"), "gpt-4o-mini"),
            "openrouter" => (
                "https://openrouter.ai/api/v1",
                Some("OPENROUTER_API_KEY"),
                "openai/gpt-4o-mini",
            ),
            "gemini" => (
                "https://generativelanguage.googleapis.com/v1beta/openai",
                Some("GEMINI_API_KEY"),
                "gemini-2.0-flash",
            ),
            "ollama" => ("http://127.0.0.1:11434/v1", None, "qwen2.5-coder"),
            "vllm" => ("http://127.0.0.1:8000/v1", None, ""),
            other => {
                env.malformed(
                    "AI_PROVIDER",
                    format!("unknown provider {other:?}; use template, openai, openrouter, gemini, ollama or vllm"),
                );
                return None;
            }
        };
        let base_url = env.optional("AI_BASE_URL").unwrap_or_else(|| base.to_owned());
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            env.malformed("AI_BASE_URL", format!("expected an http(s) URL (got {base_url:?})"));
        }
        let model = match env.optional("AI_MODEL") {
            Some(m) => m,
            None if model.is_empty() => env.required("AI_MODEL", "the model the server serves"),
            None => model.to_owned(),
        };
        // A custom base URL (a local server) may need no key.
        let api_key = match key_var {
            Some(var) if env.optional("AI_BASE_URL").is_none() => {
                Some(env.secret(var, &format!("needed by AI_PROVIDER={provider}")))
            }
            Some(var) => env.optional(var).map(Secret::new),
            None => None,
        };
        let timeout = env.secs_or("AI_TIMEOUT_SECS", Duration::from_secs(120));
        Some(Self {
            provider,
            base_url,
            model,
            api_key,
            timeout,
        })
    }
}

impl OpenAiCompatible {
    pub fn new(s: &ChatSettings) -> Self {
        let mut config = OpenAIConfig::new().with_api_base(s.base_url.trim_end_matches('/'));
        config = config.with_api_key(s.api_key.as_ref().map(|k| k.expose().to_owned()).unwrap_or_default());
        Self {
            name: s.provider.clone(),
            model: s.model.clone(),
            client: Client::with_config(config),
        }
    }

    fn messages(request: &Request) -> Result<Vec<ChatCompletionRequestMessage>, async_openai::error::OpenAIError> {
        let mut out: Vec<ChatCompletionRequestMessage> = vec![ChatCompletionRequestSystemMessageArgs::default()
            .content(SYSTEM_PROMPT)
            .build()?
            .into()];
        for turn in &request.history {
            out.push(if turn.from_user {
                ChatCompletionRequestUserMessageArgs::default()
                    .content(turn.content.as_str())
                    .build()?
                    .into()
            } else {
                ChatCompletionRequestAssistantMessageArgs::default()
                    .content(turn.content.as_str())
                    .build()?
                    .into()
            });
        }
        let mut ask = String::new();
        if let Some(base) = &request.base_script {
            ask.push_str(&format!("The current script is:\n```python\n{base}\n```\n\n"));
        }
        ask.push_str(&request.prompt);
        if let Some((script, error)) = &request.failed {
            ask.push_str(&format!(
                "\n\nThis script failed:\n```python\n{script}\n```\nThe error was:\n{error}\n\nFix it and answer with the whole corrected script."
            ));
        }
        out.push(
            ChatCompletionRequestUserMessageArgs::default()
                .content(ask)
                .build()?
                .into(),
        );
        Ok(out)
    }
}

#[async_trait]
impl Provider for OpenAiCompatible {
    fn name(&self) -> &str {
        &self.name
    }
    fn model(&self) -> &str {
        &self.model
    }
    async fn generate(&self, request: &Request) -> Result<Draft, ProviderError> {
        let unavailable = |e: async_openai::error::OpenAIError| ProviderError::Unavailable(e.to_string());
        let req = CreateChatCompletionRequestArgs::default()
            .model(self.model.as_str())
            .messages(Self::messages(request).map_err(unavailable)?)
            .temperature(0.2)
            .build()
            .map_err(unavailable)?;
        let started = Instant::now();
        let resp = self.client.chat().create(req).await.map_err(unavailable)?;
        let response_time = started.elapsed();
        let text = resp
            .choices
            .first()
            .and_then(|c| c.message.content.clone())
            .ok_or_else(|| ProviderError::Unavailable("the model answered with no content".into()))?;
        let usage = resp.usage.as_ref();
        Ok(Draft {
            script: extract_code(&text),
            reply: format!("Generated a FreeCAD script with {}.", resp.model),
            model: resp.model.clone(),
            prompt_tokens: usage.map_or(0, |u| u.prompt_tokens),
            completion_tokens: usage.map_or(0, |u| u.completion_tokens),
            response_time,
            expected: None,
            spec: None,
        })
    }
}

/// The code of a reply: the first fenced block (preferring one marked
/// `python`), or the whole reply when it has none.
pub fn extract_code(reply: &str) -> String {
    let blocks: Vec<(&str, &str)> = reply
        .split("```")
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, block)| block.split_once('\n').unwrap_or((block, "")))
        .collect();
    let chosen = blocks
        .iter()
        .find(|(lang, _)| matches!(lang.trim().to_ascii_lowercase().as_str(), "python" | "py" | "python3"))
        .or_else(|| blocks.first());
    match chosen {
        Some((_, code)) => code.trim_end().to_owned() + "\n",
        None => reply.trim().to_owned() + "\n",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_is_taken_from_fenced_or_plain_replies() {
        assert_eq!(
            extract_code("Here:\n```python\nimport Part\nx = 1\n```\nDone."),
            "import Part\nx = 1\n"
        );
        assert_eq!(extract_code("```\nimport Part\n```"), "import Part\n");
        assert_eq!(
            extract_code("```text\nnote\n```\n```py\nimport Part\n```"),
            "import Part\n"
        );
        assert_eq!(extract_code("import Part\n"), "import Part\n");
    }

    fn reader(pairs: &[(&str, &str)]) -> EnvReader {
        EnvReader::from_map(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    #[test]
    fn provider_settings_name_the_missing_key() {
        let mut env = reader(&[("AI_PROVIDER", "openrouter")]);
        ChatSettings::read(&mut env);
        let err = env.finish().unwrap_err().to_string();
        assert!(err.contains("OPENROUTER_API_KEY is not set"), "{err}");

        let mut env = reader(&[("AI_PROVIDER", "gpt-9")]);
        ChatSettings::read(&mut env);
        assert!(env
            .finish()
            .unwrap_err()
            .to_string()
            .contains("AI_PROVIDER is malformed"));

        let mut env = reader(&[("AI_PROVIDER", "template")]);
        assert!(ChatSettings::read(&mut env).is_none());
        assert!(env.finish().is_ok());

        let mut env = reader(&[("AI_PROVIDER", "openai"), ("AI_BASE_URL", "http://127.0.0.1:9/v1")]);
        let s = ChatSettings::read(&mut env).unwrap();
        assert!(env.finish().is_ok(), "a local server needs no key");
        assert_eq!(s.model, "gpt-4o-mini");
    }
}

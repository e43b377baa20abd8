//! Script providers: the offline template catalogue and OpenAI-compatible
//! chat completions (OpenAI, OpenRouter, Gemini's OpenAI endpoint, Ollama,
//! vLLM), behind one trait.
//!
//! A language model is first asked for a part spec (its JSON Schema as the
//! response format where the server takes one, else in the prompt), which
//! the one compiler builds with exact expectations. Only when the model
//! says the spec cannot express the part, or its spec is refused twice, is
//! it asked for a FreeCAD script; that script is held to what the prompt
//! itself states ([`cadgen::requirements`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
use async_openai::types::chat::{
    ChatCompletionRequestAssistantMessageArgs, ChatCompletionRequestMessage, ChatCompletionRequestSystemMessageArgs,
    ChatCompletionRequestUserMessageArgs, CreateChatCompletionRequestArgs, CreateChatCompletionResponse,
    ResponseFormat, ResponseFormatJsonSchema,
};
use async_openai::Client;
use async_trait::async_trait;

use domain::messages::{Question, TEMPLATE_PROVIDER};
use domain::settings::{ai_generator, Setting};
use domain::spec::PartSpec;
use domain::verify::Expectations;
use platform::config::{EnvReader, Secret};

/// The system prompt: what the worker expects of a script.
pub const SYSTEM_PROMPT: &str = r#"You write FreeCAD 0.20 Python scripts that build one solid part from a description.
The script contract:
- Units are millimetres.
- Import only FreeCAD's modeling modules (FreeCAD as App, Part, PartDesign, Sketcher, Draft, Mesh, MeshPart, BOPTools) and pure computation modules (math, numpy, itertools, functools, collections, typing).
- Get the document with `doc = App.ActiveDocument or App.newDocument("Model")`.
- Put the part's dimensions as named constants at the top, then build shapes with Part (makeBox, makeCylinder, makeSphere, makeCone, extrude, cut, fuse, …).
- Add the final part as one solid: `doc.addObject("Part::Feature", "Part").Shape = shape`, then call `doc.recompute()`.
- Never open, save, export, print or read files; never use os, sys, subprocess, socket, eval, exec, open or __import__. Exporting is done for you.
Answer with the complete script in one ```python fenced block, nothing else."#;

/// The system prompt of the first question: the part as a spec.
pub const SPEC_PROMPT: &str = r#"You describe one solid part as a CADScribe part spec: a JSON object with a base solid and features, every length in millimetres, every angle in degrees. A compiler turns the spec into the model, so the JSON must follow the JSON Schema you are given exactly (no extra fields, "spec_version": 1, no "history").
Choose the base that matches the part (a box, cylinder, tube, catalogue part, or a sketch of closed profiles extruded or revolved), then add holes, patterns, fillets, chamfers and shells as features.
If the spec format cannot express the part, answer exactly {"unsupported": "<why, in one sentence>"} and nothing else: the part will then be written as a FreeCAD script instead.
If the request names a part but leaves out a dimension the part cannot do without (a flange with no size at all), do not guess: answer exactly {"question": "<one short question for that dimension>"} and nothing else. Ordinary details (a thickness, a hole size) may take sensible defaults.
Answer with the JSON object only."#;

/// Added to [`SPEC_PROMPT`] when the server does not take a JSON Schema as
/// its response format.
const SPEC_IN_BLOCK: &str = "Answer with the JSON object in one ```json fenced block, nothing else.";

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
    /// The prompt names a part but lacks a dimension it needs: the job
    /// ends asking this, and the user's answer continues the request.
    #[error("{}", question.text)]
    Question { question: Question },
    /// The model service failed; worth a retry.
    #[error("AI provider unavailable: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait Provider: Send + Sync {
    /// `template`, `openai`, `openrouter`, …
    fn name(&self) -> &str;
    fn model(&self) -> &str;
    /// Whether answering `prompt` reads the project's context: the
    /// conversation so far and the base version's script and spec. A
    /// language model always does; without it the request carries the
    /// prompt alone (and the failure to repair, if any).
    fn reads_context(&self, _prompt: &str) -> bool {
        true
    }
    async fn generate(&self, request: &Request) -> Result<Draft, ProviderError>;
}

/// The embedded, offline default.
pub struct Template;

#[async_trait]
impl Provider for Template {
    fn name(&self) -> &str {
        TEMPLATE_PROVIDER
    }
    fn model(&self) -> &str {
        "catalogue"
    }
    /// Only a follow-up reads the base version's spec; a prompt that
    /// describes a whole part needs nothing else, and the conversation is
    /// never read.
    fn reads_context(&self, prompt: &str) -> bool {
        cadgen::generate(prompt).is_err()
    }
    /// A prompt that describes a whole part starts a new one; anything else
    /// in a project with a spec-built version is a follow-up applied to that
    /// version's spec ("make it 15 mm thick", "undo"). A follow-up that
    /// cannot be applied fails with what was understood.
    async fn generate(&self, request: &Request) -> Result<Draft, ProviderError> {
        let started = Instant::now();
        let g = match (cadgen::generate(&request.prompt), &request.base_spec) {
            (Ok(fresh), _) => fresh,
            // A new part that lacks a dimension is asked about, even in a
            // project that has a version.
            (Err(fresh), Some(base)) => match cadgen::follow_up(base, &request.prompt) {
                Ok(g) => g,
                Err(_) if fresh.question.is_some() => return Err(not_understood(fresh)),
                Err(e) => return Err(not_understood(e)),
            },
            (Err(e), None) if e.question.is_none() && cadgen::is_change(&request.prompt) => {
                return Err(ProviderError::NotUnderstood(nothing_to_change(
                    request.base_script.is_some(),
                )))
            }
            (Err(e), None) => return Err(not_understood(e)),
        };
        Ok(Draft::compiled(g, started))
    }
}

/// Why a change cannot be applied without a language model when the
/// project has no spec-built version to apply it to.
fn nothing_to_change(has_version: bool) -> String {
    let example = cadgen::CATALOGUE[0].example;
    if has_version {
        format!(
            "This reads as a change, but the current version was not built from a part description              (it is an uploaded or a language model's script), so it can only be changed with a              language model. Describe the whole part instead, e.g. \"{example}\"."
        )
    } else {
        format!(
            "This reads as a change, but the project has no model yet: describe the part first,              e.g. \"{example}\"; then \"make it 15 mm thick\" and the like change it."
        )
    }
}

fn not_understood(e: cadgen::NotUnderstood) -> ProviderError {
    match e.question {
        Some(question) => ProviderError::Question { question },
        None => ProviderError::NotUnderstood(e.to_string()),
    }
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
    /// Cleared once the server refuses a JSON Schema response format: later
    /// questions ask for a fenced JSON block instead.
    json_schema: AtomicBool,
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
    /// Reads `AI_PROVIDER`, `AI_MODEL`, `AI_BASE_URL` and the provider's key
    /// (checked against `domain::settings::ai_generator`); `None` for the
    /// template provider.
    pub fn read(env: &mut EnvReader) -> Option<Self> {
        env.check(ai_generator::OWN);
        let provider = env.get(&ai_generator::AI_PROVIDER)?.to_ascii_lowercase();
        let (base, key, model): (&str, Option<&Setting>, &str) = match provider.as_str() {
            "openai" => (
                "https://api.openai.com/v1",
                Some(&ai_generator::OPENAI_API_KEY),
                "gpt-4o-mini",
            ),
            "openrouter" => (
                "https://openrouter.ai/api/v1",
                Some(&ai_generator::OPENROUTER_API_KEY),
                "openai/gpt-4o-mini",
            ),
            "gemini" => (
                "https://generativelanguage.googleapis.com/v1beta/openai",
                Some(&ai_generator::GEMINI_API_KEY),
                "gemini-2.0-flash",
            ),
            "ollama" => ("http://127.0.0.1:11434/v1", None, "qwen2.5-coder"),
            "vllm" => ("http://127.0.0.1:8000/v1", None, ""),
            // The template catalogue, or a provider the check refused.
            _ => return None,
        };
        Some(Self {
            provider,
            base_url: env.get(&ai_generator::AI_BASE_URL).unwrap_or_else(|| base.to_owned()),
            model: env.get(&ai_generator::AI_MODEL).unwrap_or_else(|| model.to_owned()),
            api_key: key.and_then(|k| env.get(k)).map(Secret::new),
            timeout: env.secs(&ai_generator::AI_TIMEOUT_SECS),
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
            json_schema: AtomicBool::new(true),
        }
    }

    /// The system prompt, the conversation so far and `ask`.
    fn conversation(
        system: &str,
        request: &Request,
        ask: String,
    ) -> Result<Vec<ChatCompletionRequestMessage>, OpenAIError> {
        let mut out: Vec<ChatCompletionRequestMessage> = vec![ChatCompletionRequestSystemMessageArgs::default()
            .content(system)
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
        out.push(
            ChatCompletionRequestUserMessageArgs::default()
                .content(ask)
                .build()?
                .into(),
        );
        Ok(out)
    }

    /// The question for a script: the prompt, the script to iterate on, the
    /// failure to repair.
    fn script_messages(request: &Request) -> Result<Vec<ChatCompletionRequestMessage>, OpenAIError> {
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
        Self::conversation(SYSTEM_PROMPT, request, ask)
    }

    /// The question for a spec: the prompt, or the current spec and the
    /// change to make to it.
    fn spec_messages(request: &Request, in_block: bool) -> Result<Vec<ChatCompletionRequestMessage>, OpenAIError> {
        let mut system = SPEC_PROMPT.to_owned();
        if let Ok(example) = cadgen::generate("a 40 x 20 x 10 mm plate with a 6 mm through hole") {
            let json = serde_json::to_string(&example.spec).unwrap_or_default();
            system.push_str(&format!(
                "\nFor example, \"a 40 x 20 x 10 mm plate with a 6 mm through hole\" is:\n{json}"
            ));
        }
        if in_block {
            system.push_str(&format!(
                "\nThe spec's JSON Schema:\n```json\n{}\n```\n{SPEC_IN_BLOCK}",
                spec_schema()
            ));
        }
        let ask = match &request.base_spec {
            Some(base) => {
                let mut current = base.clone();
                current.history.clear();
                let current = serde_json::to_string_pretty(&current).unwrap_or_default();
                format!(
                    "The current part spec is:\n```json\n{current}\n```\n\nApply this change and answer with the whole edited spec: {}",
                    request.prompt
                )
            }
            None => request.prompt.clone(),
        };
        Self::conversation(&system, request, ask)
    }

    /// One chat completion.
    async fn complete(
        &self,
        messages: Vec<ChatCompletionRequestMessage>,
        format: Option<ResponseFormat>,
    ) -> Result<Answer, OpenAIError> {
        let mut args = CreateChatCompletionRequestArgs::default();
        args.model(self.model.as_str()).messages(messages).temperature(0.2);
        if let Some(format) = format {
            args.response_format(format);
        }
        let started = Instant::now();
        let resp = self.client.chat().create(args.build()?).await?;
        Ok(Answer::of(resp, started.elapsed()))
    }

    /// Asks for the part as a spec. `Ok(Err(reason))` when the model says the
    /// spec cannot express the part, or its spec is still not accepted
    /// after one correction: the caller asks for a script instead.
    async fn ask_spec(&self, request: &Request) -> Result<Result<Draft, String>, ProviderError> {
        let started = Instant::now();
        let mut tokens = (0, 0);
        let mut answer = None;
        if self.json_schema.load(Ordering::Relaxed) {
            let messages = Self::spec_messages(request, false).map_err(unavailable)?;
            match self.complete(messages, Some(spec_format())).await {
                Ok(a) => answer = Some(a),
                Err(e) if refuses_format(&e) => {
                    tracing::info!(error = %e, "the server refuses a JSON Schema response format; asking for a fenced block");
                    self.json_schema.store(false, Ordering::Relaxed);
                }
                Err(e) => return Err(unavailable(e)),
            }
        }
        let in_block = answer.is_none();
        let mut messages = Self::spec_messages(request, in_block).map_err(unavailable)?;
        let format = (!in_block).then(spec_format);
        let mut answer = match answer {
            Some(a) => a,
            None => self.complete(messages.clone(), None).await.map_err(unavailable)?,
        };
        let mut corrected = false;
        loop {
            tokens.0 += answer.prompt_tokens;
            tokens.1 += answer.completion_tokens;
            let error = match read_spec(&answer.text, request.base_spec.as_ref()) {
                SpecReply::Unsupported(reason) => return Ok(Err(reason)),
                SpecReply::Question(text) => {
                    let question = Question {
                        text,
                        what: String::new(),
                        prompt: request.prompt.clone(),
                    };
                    return Err(ProviderError::Question { question });
                }
                SpecReply::Spec(spec) => match cadgen::compile(&spec).map(|g| {
                    let conflicts = prompt_conflicts(request, &g);
                    (g, conflicts)
                }) {
                    Ok((_, conflicts)) if !conflicts.is_empty() => {
                        format!("it does not match the prompt: {}", conflicts.join("; "))
                    }
                    Ok((g, _)) => {
                        let mut draft = Draft::compiled(g, started);
                        draft.reply = format!(
                            "{} (from a part spec written by {}).",
                            draft.reply.trim_end_matches('.'),
                            answer.model
                        );
                        draft.model = answer.model;
                        draft.prompt_tokens = tokens.0;
                        draft.completion_tokens = tokens.1;
                        return Ok(Ok(draft));
                    }
                    Err(e) => format!("the compiler refused it: {}", e.reason),
                },
                SpecReply::Invalid(e) => format!("it is not a valid part spec: {e}"),
            };
            if corrected {
                return Ok(Err(format!("the model's part spec was not accepted ({error})")));
            }
            corrected = true;
            tracing::info!(%error, "the model's part spec was not accepted; asking once more");
            messages.push(
                ChatCompletionRequestAssistantMessageArgs::default()
                    .content(answer.text.as_str())
                    .build()
                    .map_err(unavailable)?
                    .into(),
            );
            messages.push(
                ChatCompletionRequestUserMessageArgs::default()
                    .content(format!(
                        "That spec was not accepted: {error}\nAnswer with the corrected spec, or with {{\"unsupported\": \"<why>\"}} if the spec format cannot express the part."
                    ))
                    .build()
                    .map_err(unavailable)?
                    .into(),
            );
            answer = self
                .complete(messages.clone(), format.clone())
                .await
                .map_err(unavailable)?;
        }
    }

    /// Asks for a FreeCAD script. A new script is held to what the prompt
    /// states (see [`cadgen::requirements`]); `why` says why there is no
    /// spec.
    async fn ask_script(&self, request: &Request, why: Option<String>) -> Result<Draft, ProviderError> {
        let messages = Self::script_messages(request).map_err(unavailable)?;
        let answer = self.complete(messages, None).await.map_err(unavailable)?;
        if answer.text.trim().is_empty() {
            return Err(ProviderError::Unavailable("the model answered with no content".into()));
        }
        let expected = cadgen::requirements(&request.prompt).unwrap_or_default();
        let mut reply = format!("Generated a FreeCAD script with {}.", answer.model);
        if let Some(why) = why {
            reply.push_str(&format!(" No part spec: {why}."));
        }
        reply.push(' ');
        reply.push_str(&cadgen::describe_requirements(&expected));
        Ok(Draft {
            script: extract_code(&answer.text),
            reply,
            model: answer.model,
            prompt_tokens: answer.prompt_tokens,
            completion_tokens: answer.completion_tokens,
            response_time: answer.elapsed,
            expected: Some(expected),
            spec: None,
        })
    }
}

/// A model's answer and what it cost.
struct Answer {
    text: String,
    model: String,
    prompt_tokens: u32,
    completion_tokens: u32,
    elapsed: Duration,
}

impl Answer {
    fn of(resp: CreateChatCompletionResponse, elapsed: Duration) -> Self {
        let usage = resp.usage.as_ref();
        Self {
            text: resp
                .choices
                .first()
                .and_then(|c| c.message.content.clone())
                .unwrap_or_default(),
            prompt_tokens: usage.map_or(0, |u| u.prompt_tokens),
            completion_tokens: usage.map_or(0, |u| u.completion_tokens),
            model: resp.model,
            elapsed,
        }
    }
}

/// Where a new part's spec contradicts what the prompt itself states (see
/// [`cadgen::requirements`]): a spec is verified against its own
/// expectations, so a misread size must be caught here.
fn prompt_conflicts(request: &Request, g: &cadgen::Generated) -> Vec<String> {
    match (&request.base_spec, cadgen::requirements(&request.prompt)) {
        (None, Some(required)) => cadgen::contradictions(&required, &g.expected),
        _ => Vec::new(),
    }
}

fn unavailable(e: OpenAIError) -> ProviderError {
    ProviderError::Unavailable(e.to_string())
}

/// Whether a failed request looks like the server refusing the response
/// format (a client error that is not about the key or the rate) rather
/// than the server being down.
fn refuses_format(e: &OpenAIError) -> bool {
    match e {
        OpenAIError::ApiError(r) => {
            r.status_code.is_client_error() && ![401, 403, 429].contains(&r.status_code.as_u16())
        }
        OpenAIError::JSONDeserialize(..) => true,
        _ => false,
    }
}

/// The JSON Schema of an answer to the spec question: a part spec, or
/// `{"unsupported": "why"}`.
pub fn spec_schema() -> serde_json::Value {
    let mut spec = serde_json::to_value(schemars::schema_for!(PartSpec)).unwrap_or_default();
    let defs = spec
        .as_object_mut()
        .and_then(|o| {
            o.remove("$schema");
            o.remove("$defs")
        })
        .unwrap_or_else(|| serde_json::json!({}));
    serde_json::json!({
        "anyOf": [
            spec,
            {
                "type": "object",
                "properties": { "unsupported": { "type": "string", "description": "Why the spec format cannot express the part." } },
                "required": ["unsupported"],
                "additionalProperties": false
            },
            {
                "type": "object",
                "properties": { "question": { "type": "string", "description": "One question for a dimension the part needs and the prompt does not give." } },
                "required": ["question"],
                "additionalProperties": false
            }
        ],
        "$defs": defs
    })
}

fn spec_format() -> ResponseFormat {
    ResponseFormat::JsonSchema {
        json_schema: ResponseFormatJsonSchema {
            description: Some(
                "A CADScribe part spec, or {\"unsupported\": why} when the spec cannot express the part.".into(),
            ),
            name: "part_spec".into(),
            schema: spec_schema(),
            strict: None,
        },
    }
}

/// What a model answered to the spec question.
#[derive(Debug)]
enum SpecReply {
    Spec(PartSpec),
    Unsupported(String),
    /// The prompt lacks a dimension; the model asks for it.
    Question(String),
    Invalid(String),
}

/// Reads the answer to the spec question: a bare or fenced JSON object. An
/// edited spec keeps the base in its history, so "undo" works as after an
/// offline follow-up.
fn read_spec(text: &str, base: Option<&PartSpec>) -> SpecReply {
    let json = json_of(text);
    let value: serde_json::Value = match serde_json::from_str(json) {
        Ok(v) => v,
        Err(e) => return SpecReply::Invalid(format!("the answer is not JSON ({e})")),
    };
    if let Some(question) = value.get("question").and_then(|q| q.as_str()) {
        return SpecReply::Question(question.trim().to_owned());
    }
    if let Some(reason) = value.get("unsupported") {
        let reason = reason.as_str().map_or_else(|| reason.to_string(), str::to_owned);
        return SpecReply::Unsupported(format!("the model says the part spec cannot express it ({reason})"));
    }
    let mut spec: PartSpec = match serde_json::from_value(value) {
        Ok(spec) => spec,
        Err(e) => return SpecReply::Invalid(e.to_string()),
    };
    spec.history.clear();
    if let Some(base) = base {
        spec.follow(base);
    }
    SpecReply::Spec(spec)
}

/// The JSON of an answer: its fenced block if it has one, else the text
/// from the first `{` to the last `}`.
fn json_of(text: &str) -> &str {
    if let Some((_, rest)) = text.split_once("```") {
        let rest = rest.split_once('\n').map_or(rest, |(_, body)| body);
        if let Some((block, _)) = rest.split_once("```") {
            return block.trim();
        }
    }
    match (text.find('{'), text.rfind('}')) {
        (Some(a), Some(b)) if a < b => &text[a..=b],
        _ => text.trim(),
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
    /// A new part or a follow-up is first asked for as a part spec; a
    /// script only when the spec cannot express the part. Repairs stay
    /// scripts: they fix the script that failed.
    ///
    /// A change to a version built from a script (no spec) is made to that
    /// script: a spec written from the conversation alone could silently
    /// drop what the script built.
    async fn generate(&self, request: &Request) -> Result<Draft, ProviderError> {
        let scripted_base = request.base_spec.is_none() && request.base_script.is_some();
        let why = match &request.failed {
            Some(_) => None,
            None if scripted_base => Some("the current version is a script, so the change is made to it".to_owned()),
            None => match self.ask_spec(request).await? {
                Ok(draft) => return Ok(draft),
                Err(why) => Some(why),
            },
        };
        self.ask_script(request, why).await
    }
}

/// The code of a reply: of its fenced blocks, the one that imports FreeCAD
/// (the longest such, when a model shows a snippet before the whole
/// script), else the first marked `python`, else the first; with no fence,
/// the reply from its first line of code on (prose before it dropped).
pub fn extract_code(reply: &str) -> String {
    let blocks: Vec<(&str, &str)> = reply
        .split("```")
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, block)| block.split_once('\n').unwrap_or((block, "")))
        .collect();
    let imports_freecad = |code: &str| {
        code.lines().any(|l| {
            let l = l.trim_start();
            (l.starts_with("import ") || l.starts_with("from ")) && (l.contains("FreeCAD") || l.contains("Part"))
        })
    };
    let python = |lang: &str| matches!(lang.trim().to_ascii_lowercase().as_str(), "python" | "py" | "python3");
    let chosen = blocks
        .iter()
        .filter(|(_, code)| imports_freecad(code))
        .max_by_key(|(_, code)| code.len())
        .or_else(|| blocks.iter().find(|(lang, _)| python(lang)))
        .or_else(|| blocks.first());
    match chosen {
        Some((_, code)) => code.trim_end().to_owned() + "\n",
        None => {
            let lines: Vec<&str> = reply.trim().lines().collect();
            let code_starts = |l: &&str| {
                let l = l.trim_start();
                l.starts_with("import ") || l.starts_with("from ") || l.starts_with('#')
            };
            let first = lines.iter().position(code_starts).unwrap_or(0);
            lines[first..].join("\n").trim_end().to_owned() + "\n"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_catalogue_reads_a_projects_context_only_for_a_follow_up_and_answers_the_same() {
        let whole = "box 2 by 3 by 4 cm";
        assert!(!Template.reads_context(whole));
        assert!(Template.reads_context("make it 15 mm thick"));
        assert!(Template.reads_context("a dragon breathing fire"));
        // A whole part is the same part with or without a base to iterate on.
        let base = cadgen::generate("cylinder diameter 20mm height 50mm").unwrap().spec;
        let bare = Request {
            prompt: whole.into(),
            history: Vec::new(),
            base_script: None,
            base_spec: None,
            failed: None,
        };
        let with_base = Request {
            base_spec: Some(base),
            base_script: Some("import Part\n".into()),
            ..bare.clone()
        };
        let (a, b) = (
            Template.generate(&bare).await.unwrap(),
            Template.generate(&with_base).await.unwrap(),
        );
        assert_eq!((a.script, a.spec), (b.script, b.spec));
    }

    #[tokio::test]
    async fn a_change_with_no_spec_built_version_says_why_it_cannot_be_applied() {
        let request = |prompt: &str, base_script: Option<&str>| Request {
            prompt: prompt.into(),
            history: Vec::new(),
            base_script: base_script.map(str::to_owned),
            base_spec: None,
            failed: None,
        };
        let refusal = |r: Request| async move {
            match Template.generate(&r).await {
                Err(ProviderError::NotUnderstood(why)) => why,
                other => panic!("expected a refusal, got {:?}", other.map(|d| d.reply)),
            }
        };
        for change in ["make it 8 mm thick", "twice as long", "undo", "remove the fillet"] {
            let why = refusal(request(change, None)).await;
            assert!(why.contains("no model yet"), "{change}: {why}");
            let why = refusal(request(change, Some("import Part\n"))).await;
            assert!(why.contains("not built from a part description"), "{change}: {why}");
        }
        // Neither a part nor a change: the catalogue's own answer.
        let why = refusal(request("a dragon breathing fire", None)).await;
        assert!(why.contains("could not find a part"), "{why}");
    }

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
        // A snippet, then the whole script: the script.
        assert_eq!(
            extract_code("First:\n```python\nbox = Part.makeBox(1, 1, 1)\n```\nAll of it:\n```python\nimport Part\nbox = Part.makeBox(1, 1, 1)\n```"),
            "import Part\nbox = Part.makeBox(1, 1, 1)\n"
        );
        // Shell commands first, the script after.
        assert_eq!(
            extract_code("```bash\nfreecadcmd x.py\n```\n```\nimport FreeCAD\n```"),
            "import FreeCAD\n"
        );
        // No fence, prose first.
        assert_eq!(
            extract_code("Here is the script:\nimport Part\nx = 1\n"),
            "import Part\nx = 1\n"
        );
    }

    #[test]
    fn spec_answers_are_read_bare_fenced_or_unsupported() {
        let spec = cadgen::generate("box 2 by 3 by 4 cm").unwrap().spec;
        let json = serde_json::to_string(&spec).unwrap();
        match read_spec(&json, None) {
            SpecReply::Spec(read) => assert_eq!(read, spec),
            other => panic!("{other:?}"),
        }
        match read_spec(&format!("Here it is:\n```json\n{json}\n```"), None) {
            SpecReply::Spec(read) => assert_eq!(read, spec),
            other => panic!("{other:?}"),
        }
        match read_spec(r#"{"unsupported": "a thread"}"#, None) {
            SpecReply::Unsupported(why) => assert!(why.contains("a thread"), "{why}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(read_spec("import Part", None), SpecReply::Invalid(_)));
        match read_spec(r#"{"question": "What outside diameter should the flange have?"}"#, None) {
            SpecReply::Question(q) => assert!(q.starts_with("What outside diameter"), "{q}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(read_spec(r#"{"part": "box"}"#, None), SpecReply::Invalid(_)));
    }

    #[test]
    fn an_edited_spec_keeps_its_base_for_undo() {
        let base = cadgen::generate("box 2 by 3 by 4 cm").unwrap().spec;
        let edited = cadgen::generate("box 2 by 3 by 5 cm").unwrap().spec;
        let SpecReply::Spec(read) = read_spec(&serde_json::to_string(&edited).unwrap(), Some(&base)) else {
            panic!("not read");
        };
        assert_eq!(read.history, vec![base]);
        assert_eq!(read.base, edited.base);
    }

    #[test]
    fn the_spec_schema_accepts_a_spec_or_a_refusal() {
        let schema = spec_schema();
        assert_eq!(schema["anyOf"].as_array().map(Vec::len), Some(3));
        assert!(schema["$defs"].as_object().is_some_and(|d| !d.is_empty()));
        assert!(
            schema["anyOf"][0].get("$defs").is_none(),
            "definitions live at the root"
        );
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

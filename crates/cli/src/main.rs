use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

use cadscribe_cli::api::{self, Api};
use cadscribe_cli::{commands, migrate};
use platform::config::{FromEnv, MongoSettings};

/// CADScribe at a terminal: a sentence in, a CAD model out.
#[derive(Parser)]
#[command(name = "cadscribe", version)]
struct Cli {
    /// The gateway.
    #[arg(long, global = true, env = "CADSCRIBE_URL", default_value = api::DEFAULT_URL)]
    url: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create an account and keep its token.
    Register {
        #[arg(long)]
        email: String,
        /// Asked for when absent.
        #[arg(long, env = "CADSCRIBE_PASSWORD", hide_env_values = true)]
        password: Option<String>,
    },
    /// Log in and keep the token (in ~/.config/cadscribe/token).
    Login {
        #[arg(long)]
        email: String,
        #[arg(long, env = "CADSCRIBE_PASSWORD", hide_env_values = true)]
        password: Option<String>,
    },
    /// Turn a sentence into a model; follow it live; write its model files.
    Generate {
        prompt: String,
        /// A project of yours (name, slug or id) to add a version to; a new
        /// project of that name otherwise.
        #[arg(long)]
        project: Option<String>,
        #[arg(long, default_value = ".")]
        out: PathBuf,
        /// Seconds to follow the job before giving up.
        #[arg(long, default_value_t = 600)]
        timeout: u64,
    },
    /// A project's processing status, or your latest jobs.
    Status { project: Option<String> },
    /// Your projects.
    Projects,
    /// Download a project's model files.
    Download {
        project: String,
        /// Default: the latest version with outputs.
        #[arg(long)]
        version: Option<u32>,
        /// FCStd, STEP, STL, OBJ, GLB, 3MF or PNG (the picture); repeat for several (default: all).
        #[arg(long = "format")]
        formats: Vec<String>,
        /// One ZIP of every file of the version instead (`{slug}_v{n}.zip`).
        #[arg(long, conflicts_with = "formats")]
        zip: bool,
        #[arg(long, default_value = ".")]
        out: PathBuf,
    },
    /// A dry run of the offline generator, with no services: prints the part
    /// spec, the reply and what the model must measure as one JSON object;
    /// a refused prompt exits with status 2 and prints `{"refused": "..."}`.
    Spec {
        prompt: String,
        /// Apply the prompt as a follow-up to this spec (a JSON file, e.g. a
        /// version's `_v{n}.json` or an earlier run's `spec`).
        #[arg(long, value_name = "SPEC.json")]
        base: Option<PathBuf>,
        /// Add the FreeCAD script as `script`.
        #[arg(long)]
        script: bool,
    },
    /// Migrate the legacy chat_messages collection (MONGODB_URI, DATABASE_NAME).
    Migrate {
        /// Print what would be done, per step, and every problem; write nothing.
        #[arg(long, conflicts_with_all = ["verify", "rollback"])]
        dry_run: bool,
        /// Check a migration (the latest applied by default); exits 1 on any mismatch.
        #[arg(long, value_name = "ID", num_args = 0..=1, default_missing_value = "", conflicts_with = "rollback")]
        verify: Option<String>,
        /// Remove exactly what a migration created (the latest by default).
        #[arg(long, value_name = "ID", num_args = 0..=1, default_missing_value = "")]
        rollback: Option<String>,
        /// Roll back even if documents created since belong to its projects.
        #[arg(long, requires = "rollback")]
        force: bool,
        #[arg(long, default_value_t = 500)]
        batch_size: usize,
    },
}

fn id(s: String) -> Option<String> {
    Some(s).filter(|s| !s.is_empty())
}

async fn run(cli: Cli) -> anyhow::Result<bool> {
    let api = Api::new(&cli.url, api::stored_token());
    match cli.command {
        Command::Register { email, password } => commands::account(&api, true, &email, password).await?,
        Command::Login { email, password } => commands::account(&api, false, &email, password).await?,
        Command::Generate {
            prompt,
            project,
            out,
            timeout,
        } => commands::generate(&api, &prompt, project.as_deref(), &out, Duration::from_secs(timeout)).await?,
        Command::Status { project } => commands::status(&api, project.as_deref()).await?,
        Command::Projects => commands::projects(&api).await?,
        Command::Download {
            project,
            version,
            formats: _,
            zip: true,
            out,
        } => commands::download_archive(&api, &project, version, &out).await?,
        Command::Download {
            project,
            version,
            formats,
            zip: false,
            out,
        } => commands::download(&api, &project, version, &formats, &out).await?,
        Command::Spec { .. } => unreachable!("handled before the runtime starts"),
        Command::Migrate {
            dry_run,
            verify,
            rollback,
            force,
            batch_size,
        } => {
            let mode = match (dry_run, verify, rollback) {
                (true, _, _) => migrate::Mode::DryRun,
                (_, Some(v), _) => migrate::Mode::Verify(id(v)),
                (_, _, Some(r)) => migrate::Mode::Rollback { id: id(r), force },
                _ => migrate::Mode::Apply,
            };
            let settings =
                MongoSettings::from_env().map_err(|e| anyhow::anyhow!("{}", e.to_string().replace('\n', " ")))?;
            let db = platform::mongo::Db::connect(&settings)
                .await
                .map_err(|e| anyhow::anyhow!("MongoDB ({}) does not answer: {e}", settings.database))?;
            let outcome = migrate::run(&db, mode, batch_size).await?;
            print!("{}", outcome.text);
            return Ok(outcome.ok);
        }
    }
    Ok(true)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Spec { prompt, base, script } = &cli.command {
        return match commands::spec(prompt, base.as_deref(), *script) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("cadscribe: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    match runtime.block_on(run(cli)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            let line = format!("{e:#}").split_whitespace().collect::<Vec<_>>().join(" ");
            eprintln!("cadscribe: {line}");
            ExitCode::FAILURE
        }
    }
}

//! Prints what the generator makes of a prompt, with no services running:
//! `cargo run -p cadgen --example dry_run -- "PROMPT" ["FOLLOW-UP" …]`.
//! Each further argument is applied as a follow-up to the previous result.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() {
        eprintln!("usage: dry_run PROMPT [FOLLOW-UP ...]");
        std::process::exit(2);
    }
    let script = std::env::var_os("SCRIPT").is_some();
    match cadgen::converse(args.iter().map(String::as_str)) {
        Ok(g) => {
            println!("reply: {}", g.reply);
            println!("expected: {:?}", g.expected);
            println!("parameters: {:?}", g.parameters);
            if script {
                println!("{}", g.script);
            }
        }
        Err(e) => {
            println!("refused: {}", e.reason);
            std::process::exit(2);
        }
    }
}

//! The AST walk behind [`check_script`](super::check_script). It uses the
//! parser's complete `Fold` traversal (the crate's `Visitor` skips keyword
//! arguments, comprehensions and default values), so every expression in
//! the script is seen.

use std::convert::Infallible;

use rustpython_parser::ast::{self, fold, Fold, Ranged};
use rustpython_parser::text_size::TextRange;

use super::policy;
use super::{Violation, ViolationKind};

/// Deepest statement / expression nesting the walk follows (CPython's own
/// parser stops at 200 levels of brackets; real scripts need far less).
pub const MAX_DEPTH: usize = 200;

/// Largest token-based bound on a statement's AST depth that is parsed at
/// all. The parsed tree is freed recursively, so an absurdly deep one (say
/// `-` repeated 200,000 times) would overflow the stack before the walk
/// could object; this bound keeps parsing to trees a small thread stack
/// handles, while long flat lists (point tables) stay fine.
pub const MAX_DEPTH_BOUND: usize = 1000;

/// Byte offset → 1-based line number.
pub struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(source: &str) -> Self {
        let starts = std::iter::once(0)
            .chain(source.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        LineIndex { starts }
    }

    pub fn line_of(&self, offset: usize) -> usize {
        self.starts.partition_point(|&start| start <= offset).max(1)
    }
}

/// Running state of one bracket group (or the logical line outside any).
#[derive(Default)]
struct Group {
    start: usize,
    /// Tokens of the current comma-separated segment; a group counts as one.
    len: usize,
    /// Deepest bound of a group nested in the current segment.
    child: usize,
    /// Largest bound of the segments already closed by a comma.
    best: usize,
}

impl Group {
    /// Each token can add at most two AST levels on top of the deepest
    /// group beside it (e.g. `-x.y`), plus a couple for the enclosing node.
    fn bound(&self) -> usize {
        self.best.max(2 * self.len + self.child) + 2
    }

    fn close_segment(&mut self) {
        self.best = self.best.max(2 * self.len + self.child);
        (self.len, self.child) = (0, 0);
    }
}

/// The line of the first statement whose AST could be deeper than
/// [`MAX_DEPTH_BOUND`], judged on tokens without building the tree.
/// Lexical errors are left for the parser to report.
pub fn too_deep(source: &str) -> Option<usize> {
    use rustpython_parser::{lexer, Mode, Tok};

    let lines = LineIndex::new(source);
    // Groups open at this point; the first is the logical line itself.
    let mut stack = vec![Group::default()];
    // Blocks nest statements: each indentation level adds to the depth.
    let mut indent = 0usize;
    let mut line_started = false;
    for token in lexer::lex(source, Mode::Module) {
        let Ok((tok, range)) = token else { return None };
        let at = usize::from(range.start());
        if !line_started {
            stack[0].start = at;
            line_started = true;
        }
        match tok {
            Tok::Lpar | Tok::Lsqb | Tok::Lbrace => stack.push(Group {
                start: at,
                ..Group::default()
            }),
            Tok::Rpar | Tok::Rsqb | Tok::Rbrace if stack.len() > 1 => {
                let group = stack.pop()?;
                let bound = group.bound();
                if bound > MAX_DEPTH_BOUND {
                    return Some(lines.line_of(group.start));
                }
                let parent = stack.last_mut()?;
                parent.len += 1;
                parent.child = parent.child.max(bound);
            }
            Tok::Newline if stack.len() == 1 => {
                if stack[0].bound() + 2 * indent > MAX_DEPTH_BOUND {
                    return Some(lines.line_of(stack[0].start));
                }
                stack[0] = Group::default();
                line_started = false;
            }
            Tok::Indent => indent += 1,
            Tok::Dedent => indent = indent.saturating_sub(1),
            Tok::Comma => stack.last_mut()?.close_segment(),
            Tok::EndOfFile => {}
            _ => stack.last_mut()?.len += 1,
        }
    }
    let deepest = stack.iter().find(|g| g.bound() + 2 * indent > MAX_DEPTH_BOUND)?;
    Some(lines.line_of(deepest.start))
}

/// Walks the module and returns its violations (unsorted).
pub fn walk(suite: ast::Suite, lines: &LineIndex) -> Vec<Violation> {
    let mut walker = Walker {
        lines,
        violations: Vec::new(),
        approved: Vec::new(),
        depth: 0,
    };
    for stmt in suite {
        // The fold cannot fail: its error type is `Infallible`.
        let _ = walker.fold_stmt(stmt);
    }
    walker.violations
}

struct Walker<'a> {
    lines: &'a LineIndex,
    violations: Vec<Violation>,
    /// Ranges of `getattr`-style names already judged by their call, and
    /// of export calls' attributes (skipped by the harness).
    approved: Vec<TextRange>,
    depth: usize,
}

impl Walker<'_> {
    fn report(&mut self, range: TextRange, kind: ViolationKind, message: String) {
        let line = self.lines.line_of(usize::from(range.start()));
        self.violations.push(Violation { line, kind, message });
    }

    fn check_stmt(&mut self, stmt: &ast::Stmt) {
        match stmt {
            ast::Stmt::Import(import) => {
                for alias in &import.names {
                    if !policy::module_allowed(&alias.name) {
                        self.report(import.range, ViolationKind::Import, not_allowed_import(&alias.name));
                    }
                }
            }
            ast::Stmt::ImportFrom(import) => self.check_import_from(import),
            _ => {}
        }
    }

    fn check_import_from(&mut self, import: &ast::StmtImportFrom) {
        let range = import.range;
        let relative = import.level.is_some_and(|level| level.to_u32() > 0);
        let module = import.module.as_ref().map(|m| m.as_str());
        match module {
            _ if relative => self.report(range, ViolationKind::Import, "relative imports are not allowed".into()),
            None => self.report(range, ViolationKind::Import, "relative imports are not allowed".into()),
            Some(module) if !policy::module_allowed(module) => {
                self.report(range, ViolationKind::Import, not_allowed_import(module))
            }
            Some(module) => {
                for alias in &import.names {
                    let name = alias.name.as_str();
                    if name == "*" {
                        let message =
                            format!("`from {module} import *` hides which names are used; import them by name");
                        self.report(range, ViolationKind::Import, message);
                    } else if let Some(why) = policy::forbidden_attribute(name) {
                        self.report(
                            range,
                            ViolationKind::Import,
                            format!("importing `{module}.{name}` is not allowed: {why}"),
                        );
                    } else if let Some(why) = policy::forbidden_name(name) {
                        self.report(range, ViolationKind::Import, why);
                    }
                }
            }
        }
    }

    fn check_expr(&mut self, expr: &ast::Expr) {
        match expr {
            ast::Expr::Name(name) => {
                if self.approved.contains(&name.range) {
                    return;
                }
                let id = name.id.as_str();
                if policy::ATTRIBUTE_BUILTINS.contains(&id) {
                    let message = format!("`{id}` is only allowed as a call with a literal, safe attribute name");
                    self.report(name.range, ViolationKind::Call, message);
                } else if let Some(why) = policy::forbidden_name(id) {
                    self.report(name.range, ViolationKind::Name, why);
                }
            }
            ast::Expr::Attribute(attr) => {
                if self.approved.contains(&attr.range) {
                    return;
                }
                if let Some(why) = policy::forbidden_attribute(attr.attr.as_str()) {
                    let message = format!("`{}` is not allowed: {why}", dotted(expr));
                    self.report(attr.range, ViolationKind::Attribute, message);
                }
            }
            ast::Expr::Call(call) => self.check_call(call),
            _ => {}
        }
    }

    fn check_call(&mut self, call: &ast::ExprCall) {
        match call.func.as_ref() {
            // `shape.exportStep("part.step")`, `doc.saveAs(...)`: the
            // harness skips the call (the worker exports every format).
            ast::Expr::Attribute(attr) if policy::is_export_call(attr.attr.as_str()) => self.approved.push(attr.range),
            // getattr(obj, "Volume") is plain attribute access; anything
            // computed could spell a forbidden name, so it is left to the
            // Name check, which refuses it.
            ast::Expr::Name(func) if policy::ATTRIBUTE_BUILTINS.contains(&func.id.as_str()) => {
                match call.args.get(1).and_then(string_literal) {
                    Some(attr) if policy::forbidden_attribute(attr).is_none() => self.approved.push(func.range),
                    Some(attr) => {
                        self.approved.push(func.range);
                        let message = format!("`{}(…, \"{attr}\")` is not allowed: forbidden attribute", func.id);
                        self.report(call.range, ViolationKind::Call, message);
                    }
                    None => {}
                }
            }
            // Mesh.Mesh("file.stl") reads a file.
            func if dotted(func) == "Mesh.Mesh" => {
                let reads_file = call
                    .args
                    .first()
                    .is_some_and(|arg| string_literal(arg).is_some() || matches!(arg, ast::Expr::JoinedStr(_)));
                if reads_file {
                    let message = "`Mesh.Mesh(path)` reads a file; build meshes from shapes".to_string();
                    self.report(call.range, ViolationKind::Call, message);
                }
            }
            _ => {}
        }
    }

    fn too_deep(&mut self, range: TextRange) -> bool {
        if self.depth < MAX_DEPTH {
            return false;
        }
        let message = format!("code is nested deeper than {MAX_DEPTH} levels");
        self.report(range, ViolationKind::TooDeep, message);
        true
    }
}

impl Fold<TextRange> for Walker<'_> {
    type TargetU = TextRange;
    type Error = Infallible;
    type UserContext = ();

    fn will_map_user(&mut self, _user: &TextRange) -> Self::UserContext {}

    fn map_user(&mut self, user: TextRange, _context: ()) -> Result<TextRange, Infallible> {
        Ok(user)
    }

    fn fold_stmt(&mut self, node: ast::Stmt) -> Result<ast::Stmt, Infallible> {
        if self.too_deep(node.range()) {
            return Ok(node);
        }
        self.check_stmt(&node);
        self.depth += 1;
        let result = fold::fold_stmt(self, node);
        self.depth -= 1;
        result
    }

    fn fold_expr(&mut self, node: ast::Expr) -> Result<ast::Expr, Infallible> {
        if self.too_deep(node.range()) {
            return Ok(node);
        }
        self.check_expr(&node);
        self.depth += 1;
        let result = fold::fold_expr(self, node);
        self.depth -= 1;
        result
    }
}

fn not_allowed_import(module: &str) -> String {
    format!(
        "importing `{module}` is not allowed; allowed modules: {}",
        policy::ALLOWED_MODULES.join(", ")
    )
}

fn string_literal(expr: &ast::Expr) -> Option<&str> {
    match expr {
        ast::Expr::Constant(ast::ExprConstant {
            value: ast::Constant::Str(s),
            ..
        }) => Some(s.as_str()),
        _ => None,
    }
}

/// `Part.export` for attribute chains on names, `….export` otherwise.
fn dotted(expr: &ast::Expr) -> String {
    match expr {
        ast::Expr::Name(name) => name.id.to_string(),
        ast::Expr::Attribute(attr) => format!("{}.{}", dotted(&attr.value), attr.attr),
        _ => "…".to_string(),
    }
}

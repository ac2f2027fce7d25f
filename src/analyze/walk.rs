//! The walk over bash's syntax tree: every command that would run, in order, with the state
//! that decides what its words mean (working directory, variables, positional parameters).

use std::collections::HashMap;
use std::ops::Range;
use std::path::PathBuf;

use brush_parser::ast::{self, CommandPrefixOrSuffixItem as Item};
use brush_parser::ParserOptions;

use super::limits::{self, MAX_COMMANDS, MAX_DEPTH, MAX_INPUT};
use super::words::{Expander, Scope, Value};
use super::{
    Analysis, Arg, Command, Context, Finding, FindingKind, Redirect, RedirectKind, Stdin, Via,
};

/// Where a piece of text sits in the analysed input, and how it was reached.
#[derive(Debug, Clone)]
pub(super) struct Frame {
    /// Byte offset of this text in the top-level input, when it appears there verbatim.
    base: Option<usize>,
    /// The top-level range to report when a position inside cannot be told.
    fallback: Range<usize>,
    pub via: Vec<Via>,
    depth: usize,
}

/// The shell state that changes what later words mean.
#[derive(Debug, Clone)]
pub(super) struct State {
    pub cwd: Option<PathBuf>,
    pub scope: Scope,
    dirstack: Vec<Option<PathBuf>>,
    /// Aliases defined earlier in the text: the name and its value (`None`: not known here).
    aliases: Vec<(String, Option<String>)>,
}

/// What a command writes on its standard output, as far as the next command in a pipe cares.
#[derive(Debug, Clone)]
pub(super) enum Output {
    Text(String),
    Program(Option<String>),
    /// File names found from these places (`find START …`).
    Found(Vec<Arg>),
}

pub(super) struct Walker<'a> {
    pub ctx: &'a Context,
    pub top: &'a str,
    pub out: Analysis,
    options: ParserOptions,
    /// Functions defined so far (so a call to one is not an unknown program), and whether
    /// any of their definitions changes the working directory: a later definition may sit in
    /// a branch that does not run, so every definition counts.
    functions: HashMap<String, bool>,
    /// Functions whose body runs their arguments as a command (`run() { "$@"; }`, Codex's
    /// `__codex_snapshot_command`): a call is judged by what it runs, and the finding their
    /// definition raised is held here, to be put back if the function can outlive the line.
    runners: HashMap<String, Runner>,
    too_complex: bool,
}

pub(super) fn analyze_top(text: &str, ctx: &Context) -> Analysis {
    let mut w = Walker {
        ctx,
        top: text,
        out: Analysis::default(),
        options: ParserOptions {
            posix_mode: ctx.posix,
            sh_mode: ctx.posix,
            ..ParserOptions::default()
        },
        functions: HashMap::new(),
        runners: HashMap::new(),
        too_complex: false,
    };
    let mut st = State {
        cwd: ctx.cwd.clone(),
        scope: Scope {
            assigned: Default::default(),
            arg0: ctx.arg0.clone(),
            positional: Some(ctx.positional.clone()),
        },
        dirstack: Vec::new(),
        aliases: Vec::new(),
    };
    let frame = Frame {
        base: Some(0),
        fallback: 0..text.len(),
        via: Vec::new(),
        depth: 0,
    };
    w.text(text, &frame, &mut st);
    w.release_runners();
    w.out
}

/// A function that runs its arguments: where its definition ends among the commands found,
/// and the findings its definition raised, held.
#[derive(Default)]
struct Runner {
    defined_at: usize,
    held: Vec<Finding>,
}

/// A function body command that runs the function's arguments as they are.
fn runs_its_arguments(command: &str) -> bool {
    let t = command.trim_start();
    ["\"$@\"", "$@", "\"${@}\"", "${@}"]
        .iter()
        .any(|p| t == *p || t.starts_with(&format!("{p} ")))
        || ["command -p ", "command ", "exec ", "builtin exec "]
            .iter()
            .any(|w| t.strip_prefix(w).is_some_and(runs_its_arguments))
}

impl<'a> Walker<'a> {
    pub fn finding(&mut self, kind: FindingKind, span: Range<usize>, detail: impl Into<String>) {
        let detail = detail.into();
        if self
            .out
            .findings
            .iter()
            .any(|f| f.kind == kind && f.span == span && f.detail == detail)
        {
            return;
        }
        self.out.findings.push(Finding { kind, span, detail });
    }

    fn complex(&mut self, frame: &Frame, why: &str) {
        if !self.too_complex {
            self.too_complex = true;
            self.finding(FindingKind::TooComplex, frame.fallback.clone(), why);
        }
    }

    /// A frame for `code` found inside the top-level range `within`.
    pub fn sub_frame(&self, parent: &Frame, code: &str, within: Range<usize>, via: Via) -> Frame {
        let mut chain = parent.via.clone();
        chain.push(via);
        let hay = self.top.get(within.clone()).unwrap_or("");
        let base = if code.is_empty() {
            None
        } else {
            hay.find(code).map(|i| within.start + i)
        };
        let fallback = match base {
            Some(b) => b..b + code.len(),
            None => within,
        };
        Frame {
            base,
            fallback,
            via: chain,
            depth: parent.depth + 1,
        }
    }

    /// Analyse a piece of shell text in a frame.
    pub fn text(&mut self, src: &str, frame: &Frame, st: &mut State) {
        if self.too_complex {
            return;
        }
        if frame.depth > MAX_DEPTH {
            self.complex(frame, "nested more deeply than shellguard analyses");
            return;
        }
        if src.len() > MAX_INPUT {
            self.complex(frame, "longer than shellguard analyses");
            return;
        }
        if limits::nesting_depth(src) > MAX_DEPTH * 4 || limits::keyword_depth(src) > MAX_DEPTH {
            self.complex(frame, "nested more deeply than shellguard analyses");
            return;
        }
        let repaired;
        let (src, program) = match self.parse(src) {
            Ok(p) => (src, p),
            Err(e) => {
                repaired = super::recover::repaired(src);
                match repaired.as_deref().map(|r| (r, self.parse(r))) {
                    Some((r, Ok(p))) => (r, p),
                    _ => {
                        self.finding(FindingKind::ParseError, frame.fallback.clone(), e);
                        return;
                    }
                }
            }
        };
        let src_ref = Src::new(src);
        self.check_parser_faults(&src_ref, frame);
        for cc in &program.complete_commands {
            self.compound_list(cc, &src_ref, frame, st);
        }
    }

    fn parse(&self, src: &str) -> Result<ast::Program, String> {
        brush_parser::Parser::new(std::io::Cursor::new(src.as_bytes()), &self.options)
            .parse_program()
            .map_err(|e| e.to_string())
    }

    /// Text the parser is known to read wrongly (parser.md) is reported, not trusted.
    fn check_parser_faults(&mut self, src: &Src, frame: &Frame) {
        // bash 5.3's `${ cmd; }` and `${| cmd; }` run cmd; brush reads them as a literal word.
        let bytes = src.text.as_bytes();
        for (i, w) in bytes.windows(3).enumerate() {
            if w[0] == b'$'
                && w[1] == b'{'
                && (w[2] == b' ' || w[2] == b'|' || w[2] == b'\t' || w[2] == b'\n')
                && (i == 0 || bytes[i - 1] != b'\\')
            {
                self.finding(
                    FindingKind::ParseError,
                    frame.fallback.clone(),
                    "`${ cmd; }` command substitution is not analysed",
                );
                break;
            }
        }
    }

    fn compound_list(
        &mut self,
        list: &ast::CompoundList,
        src: &Src,
        frame: &Frame,
        st: &mut State,
    ) {
        for item in &list.0 {
            let background = matches!(item.1, ast::SeparatorOperator::Async);
            self.and_or(&item.0, src, frame, st, background);
        }
    }

    fn and_or(
        &mut self,
        list: &ast::AndOrList,
        src: &Src,
        frame: &Frame,
        st: &mut State,
        bg: bool,
    ) {
        self.pipeline(&list.first, src, frame, st, bg);
        for next in &list.additional {
            let p = match next {
                ast::AndOr::And(p) | ast::AndOr::Or(p) => p,
            };
            self.pipeline(p, src, frame, st, bg);
        }
    }

    fn pipeline(&mut self, p: &ast::Pipeline, src: &Src, frame: &Frame, st: &mut State, bg: bool) {
        if p.seq.len() == 1 && !bg {
            self.command(&p.seq[0], Stdin::Inherited, src, frame, st);
            return;
        }
        // Each part of a pipe (and a background job) runs in a subshell: its `cd` and
        // assignments do not outlive it.
        let mut stdin = Stdin::Inherited;
        for cmd in &p.seq {
            let mut sub = st.clone();
            let out = self.command(cmd, stdin, src, frame, &mut sub);
            stdin = match out {
                Output::Text(t) => Stdin::Text(t),
                Output::Program(p) => Stdin::Program(p),
                Output::Found(places) => Stdin::Found(places),
            };
        }
    }

    fn command(
        &mut self,
        cmd: &ast::Command,
        stdin: Stdin,
        src: &Src,
        frame: &Frame,
        st: &mut State,
    ) -> Output {
        if self.too_complex {
            return Output::Program(None);
        }
        match cmd {
            ast::Command::Simple(sc) => self.simple(sc, stdin, src, frame, st),
            ast::Command::Compound(c, redirects) => {
                let mut stdin = stdin;
                let mut redirs = Vec::new();
                if let Some(r) = redirects {
                    for io in &r.0 {
                        self.redirect(io, src, frame, st, &mut redirs, &mut stdin);
                    }
                }
                let start = self.out.commands.len();
                self.compound(c, stdin.clone(), src, frame, st);
                // A redirect on a compound command applies to everything inside it.
                if !redirs.is_empty() {
                    for c in &mut self.out.commands[start..] {
                        c.redirects.extend(redirs.iter().cloned());
                    }
                    if self.out.commands.len() == start {
                        let span = src.span_of(compound_loc(c).as_ref(), frame);
                        self.push(Command {
                            argv: Vec::new(),
                            env: Vec::new(),
                            redirects: redirs,
                            stdin: Stdin::Inherited,
                            cwd: st.cwd.clone(),
                            span,
                            via: frame.via.clone(),
                        });
                    }
                }
                Output::Program(None)
            }
            ast::Command::Function(f) => {
                self.function(f, src, frame, st);
                Output::Program(None)
            }
            ast::Command::ExtendedTest(t, _) => {
                self.extended_test(&t.expr, src, frame, st);
                Output::Program(None)
            }
        }
    }

    fn extended_test(
        &mut self,
        e: &ast::ExtendedTestExpr,
        src: &Src,
        frame: &Frame,
        st: &mut State,
    ) {
        use ast::ExtendedTestExpr as E;
        match e {
            E::And(a, b) | E::Or(a, b) => {
                self.extended_test(a, src, frame, st);
                self.extended_test(b, src, frame, st);
            }
            E::Not(a) | E::Parenthesized(a) => self.extended_test(a, src, frame, st),
            E::UnaryTest(_, w) => {
                self.words(std::slice::from_ref(w), src, frame, st);
            }
            E::BinaryTest(_, a, b) => {
                self.words(&[a.clone(), b.clone()], src, frame, st);
            }
        }
    }

    fn function(&mut self, f: &ast::FunctionDefinition, src: &Src, frame: &Frame, st: &mut State) {
        let name = f.fname.value.clone();
        self.functions.entry(name.clone()).or_insert(false);
        let start = self.out.commands.len();
        let findings_before = self.out.findings.len();
        // The body runs when the function is called, with arguments nobody knows here.
        let mut inner = st.clone();
        inner.scope.positional = None;
        let mut redirs = Vec::new();
        let mut stdin = Stdin::Inherited;
        if let Some(r) = &f.body.1 {
            for io in &r.0 {
                self.redirect(io, src, frame, &mut inner, &mut redirs, &mut stdin);
            }
        }
        self.compound(&f.body.0, stdin, src, frame, &mut inner);
        *self.functions.entry(name.clone()).or_insert(false) |= inner.cwd != st.cwd;
        // `"$@"` in the body: what runs is what each call passes, judged at the call.
        let mut i = findings_before;
        while i < self.out.findings.len() {
            let f = &self.out.findings[i];
            let held = f.kind == FindingKind::DynamicProgram
                && self.top.get(f.span.clone()).is_some_and(runs_its_arguments);
            if held {
                let f = self.out.findings.remove(i);
                let at = self.out.commands.len();
                let r = self.runners.entry(name.clone()).or_default();
                r.defined_at = at;
                r.held.push(f);
            } else {
                i += 1;
            }
        }
        // A function that calls itself twice through a pipe or into the background
        // multiplies until the machine stops.
        if fork_bomb_body(&f.body.0, &name) {
            let span = src.span_of(compound_loc(&f.body.0).as_ref(), frame);
            let span = f
                .fname
                .loc
                .as_ref()
                .map(|l| src.byte_range(l, frame))
                .map(|s| s.start.min(span.start)..span.end)
                .unwrap_or(span);
            self.finding(
                FindingKind::ForkBomb,
                span,
                format!("function `{name}` calls itself through a pipe"),
            );
        }
        for c in &mut self.out.commands[start..] {
            c.redirects.extend(redirs.iter().cloned());
        }
    }

    fn compound(
        &mut self,
        c: &ast::CompoundCommand,
        stdin: Stdin,
        src: &Src,
        frame: &Frame,
        st: &mut State,
    ) {
        use ast::CompoundCommand as C;
        match c {
            C::BraceGroup(g) => self.compound_list_stdin(&g.list, stdin, src, frame, st),
            C::Subshell(s) => {
                let mut sub = st.clone();
                self.compound_list_stdin(&s.list, stdin, src, frame, &mut sub);
            }
            C::Arithmetic(a) => {
                // brush reads `( ( cmd ) )` as arithmetic: bash does not.
                let start = src.byte_range(&a.loc, frame);
                let text = src.slice(&a.loc);
                if !text.starts_with("((") {
                    self.finding(
                        FindingKind::ParseError,
                        start,
                        "nested subshells read as arithmetic",
                    );
                }
                self.arith(&a.expr.value, src, frame, st, &a.loc);
            }
            C::ArithmeticForClause(f) => {
                for e in [&f.initializer, &f.condition, &f.updater]
                    .into_iter()
                    .flatten()
                {
                    self.arith(&e.value, src, frame, st, &f.loc);
                }
                self.loop_body(&f.body.list, src, frame, st);
            }
            C::ForClause(f) => {
                let mut values = Vec::new();
                if let Some(ws) = &f.values {
                    values = self.words(ws, src, frame, st);
                }
                // The body is walked once for each value it can take (a few literal words,
                // or one path per glob), so `for d in build dist` or `for p in pkgs/*` judge
                // each path; past that, the variable is unknown.
                let each: Option<Vec<Value>> = (!values.is_empty()
                    && values.len() <= MAX_LOOP_VALUES)
                    .then(|| values.iter().map(loop_value).collect())
                    .flatten();
                let Some(each) = each else {
                    st.scope
                        .assigned
                        .insert(f.variable_name.clone(), Value::Unknown);
                    self.loop_body(&f.body.list, src, frame, st);
                    return;
                };
                let before = st.clone();
                let start = self.out.commands.len();
                for (i, v) in each.into_iter().enumerate() {
                    let mut branch = before.clone();
                    branch.scope.assigned.insert(f.variable_name.clone(), v);
                    self.loop_body(&f.body.list, src, frame, &mut branch);
                    if i == 0 {
                        *st = branch;
                    } else {
                        merge(st, &branch);
                    }
                }
                self.dedup_from(start);
            }
            C::CaseClause(c) => {
                self.words(std::slice::from_ref(&c.value), src, frame, st);
                let before = st.clone();
                for item in &c.cases {
                    self.words(&item.patterns, src, frame, st);
                    if let Some(body) = &item.cmd {
                        let mut branch = before.clone();
                        self.compound_list(body, src, frame, &mut branch);
                        merge(st, &branch);
                    }
                }
            }
            C::IfClause(i) => {
                self.compound_list(&i.condition, src, frame, st);
                let before = st.clone();
                let mut branch = before.clone();
                self.compound_list(&i.then, src, frame, &mut branch);
                merge(st, &branch);
                for e in i.elses.iter().flatten() {
                    let mut branch = before.clone();
                    if let Some(cond) = &e.condition {
                        self.compound_list(cond, src, frame, &mut branch);
                    }
                    self.compound_list(&e.body, src, frame, &mut branch);
                    merge(st, &branch);
                }
            }
            C::WhileClause(w) | C::UntilClause(w) => {
                self.compound_list(&w.0, src, frame, st);
                self.loop_body(&w.1.list, src, frame, st);
            }
            C::Coprocess(c) => {
                let mut sub = st.clone();
                self.command(&c.body, stdin, src, frame, &mut sub);
            }
        }
    }

    /// A group reading `stdin`: its first command gets it.
    fn compound_list_stdin(
        &mut self,
        list: &ast::CompoundList,
        stdin: Stdin,
        src: &Src,
        frame: &Frame,
        st: &mut State,
    ) {
        if matches!(stdin, Stdin::Inherited) {
            return self.compound_list(list, src, frame, st);
        }
        let start = self.out.commands.len();
        self.compound_list(list, src, frame, st);
        for c in &mut self.out.commands[start..] {
            if c.stdin == Stdin::Inherited {
                c.stdin = stdin.clone();
            }
        }
    }

    /// The same command found twice (a loop walked once per value) is one command to judge.
    fn dedup_from(&mut self, start: usize) {
        let mut i = start;
        while i < self.out.commands.len() {
            if self.out.commands[start..i].contains(&self.out.commands[i]) {
                self.out.commands.remove(i);
            } else {
                i += 1;
            }
        }
    }

    fn loop_body(&mut self, body: &ast::CompoundList, src: &Src, frame: &Frame, st: &mut State) {
        // A loop body may run many times: what it changes is unknown after (and inside, on
        // the second pass), so walk it with its own changes already merged once.
        let mut first = st.clone();
        self.compound_list(body, src, frame, &mut first);
        merge(st, &first);
    }

    fn arith(
        &mut self,
        expr: &str,
        src: &Src,
        frame: &Frame,
        st: &mut State,
        loc: &brush_parser::SourceSpan,
    ) {
        if expr.contains("$(") || expr.contains('`') {
            let e = Expander {
                scope: &st.scope,
                env: &self.ctx.vars,
                cwd: st.cwd.as_deref(),
                options: &self.options,
            };
            let subs = e.substitutions_in(expr);
            let within = src.byte_range(loc, frame);
            for s in subs {
                let f = self.sub_frame(frame, &s.code, within.clone(), Via::Substitution);
                let mut sub = st.clone();
                self.text(&s.code, &f, &mut sub);
            }
        }
    }

    /// Expand words for their values, analysing any substitution inside them.
    fn words(&mut self, ws: &[ast::Word], src: &Src, frame: &Frame, st: &mut State) -> Vec<Arg> {
        let mut out = Vec::new();
        for w in ws {
            let (args, _) = self.argv_word(w, src, frame, st);
            out.extend(args);
        }
        out
    }

    /// A word of a command's argv or a `for` list: brace expansion first (`{rm,-rf,x}` is
    /// three words), then each result as `word` makes it.
    fn argv_word(
        &mut self,
        w: &ast::Word,
        src: &Src,
        frame: &Frame,
        st: &mut State,
    ) -> (Vec<Arg>, Vec<String>) {
        match super::braces::expand(&w.value) {
            super::braces::Braces::None => self.word(w, src, frame, st),
            super::braces::Braces::TooMany => {
                let (_, codes) = self.word(w, src, frame, st);
                (vec![Arg::unknown()], codes)
            }
            super::braces::Braces::Words(alts) => {
                let mut args = Vec::new();
                let mut codes: Vec<String> = Vec::new();
                for alt in alts {
                    let one = ast::Word {
                        value: alt,
                        loc: w.loc.clone(),
                    };
                    let (a, c) = self.word_once(&one, src, frame, st, &codes);
                    args.extend(a);
                    for code in c {
                        if !codes.contains(&code) {
                            codes.push(code);
                        }
                    }
                }
                (args, codes)
            }
        }
    }

    /// One word: its argv words, and the code of the substitutions in it.
    fn word(
        &mut self,
        w: &ast::Word,
        src: &Src,
        frame: &Frame,
        st: &mut State,
    ) -> (Vec<Arg>, Vec<String>) {
        self.word_once(w, src, frame, st, &[])
    }

    /// `word`, leaving out the substitutions in `done` (already analysed for a word that
    /// brace expansion repeats).
    fn word_once(
        &mut self,
        w: &ast::Word,
        src: &Src,
        frame: &Frame,
        st: &mut State,
        done: &[String],
    ) -> (Vec<Arg>, Vec<String>) {
        let e = Expander {
            scope: &st.scope,
            env: &self.ctx.vars,
            cwd: st.cwd.as_deref(),
            options: &self.options,
        };
        let x = e.expand(&w.value);
        let within = w
            .loc
            .as_ref()
            .map(|l| src.byte_range(l, frame))
            .unwrap_or(frame.fallback.clone());
        let mut codes = Vec::new();
        for s in x.substitutions {
            if done.contains(&s.code) {
                codes.push(s.code);
                continue;
            }
            let f = self.sub_frame(frame, &s.code, within.clone(), Via::Substitution);
            let mut sub = st.clone();
            self.text(&s.code, &f, &mut sub);
            codes.push(s.code);
        }
        (x.args, codes)
    }

    fn redirect(
        &mut self,
        io: &ast::IoRedirect,
        src: &Src,
        frame: &Frame,
        st: &mut State,
        out: &mut Vec<Redirect>,
        stdin: &mut Stdin,
    ) {
        use ast::{IoFileRedirectKind as K, IoFileRedirectTarget as T};
        match io {
            ast::IoRedirect::File(fd, kind, target) => match target {
                T::Filename(w) => {
                    let (args, _) = self.word(w, src, frame, st);
                    let target = args.into_iter().next().unwrap_or_else(Arg::unknown);
                    let kind = match kind {
                        K::Read => {
                            if fd.is_none_or(|f| f == 0) {
                                *stdin = Stdin::Inherited;
                            }
                            RedirectKind::Read
                        }
                        K::Write | K::Clobber => RedirectKind::Write,
                        K::Append => RedirectKind::Append,
                        K::ReadAndWrite => RedirectKind::ReadWrite,
                        K::DuplicateInput | K::DuplicateOutput => return,
                    };
                    out.push(Redirect { kind, target });
                }
                T::ProcessSubstitution(kind, sub) => {
                    let produced = self.process_substitution(sub, src, frame, st);
                    if matches!(kind, ast::ProcessSubstitutionKind::Read)
                        && fd.is_none_or(|f| f == 0)
                    {
                        *stdin = Stdin::Program(produced);
                    }
                }
                T::Fd(_) | T::Duplicate(_) => {}
            },
            ast::IoRedirect::HereDocument(_, doc) => {
                let text = if doc.requires_expansion {
                    let e = Expander {
                        scope: &st.scope,
                        env: &self.ctx.vars,
                        cwd: st.cwd.as_deref(),
                        options: &self.options,
                    };
                    let x = e.expand_heredoc(&doc.doc.value);
                    let within = doc
                        .doc
                        .loc
                        .as_ref()
                        .map(|l| src.byte_range(l, frame))
                        .unwrap_or(frame.fallback.clone());
                    for s in &x.substitutions {
                        let f = self.sub_frame(frame, &s.code, within.clone(), Via::Substitution);
                        let mut sub = st.clone();
                        self.text(&s.code, &f, &mut sub);
                    }
                    match x.args.first() {
                        Some(a) if !a.dynamic => Stdin::Text(a.text.clone()),
                        Some(a) => Stdin::Text(a.text.clone()),
                        None => Stdin::Text(String::new()),
                    }
                } else {
                    Stdin::Text(doc.doc.value.clone())
                };
                *stdin = text;
            }
            ast::IoRedirect::HereString(_, w) => {
                let (args, _) = self.word(w, src, frame, st);
                let text = args
                    .iter()
                    .map(|a| a.text.as_str())
                    .collect::<Vec<_>>()
                    .join(" ");
                *stdin = if args.iter().any(|a| a.dynamic) && text.trim().is_empty() {
                    Stdin::Program(None)
                } else {
                    Stdin::Text(text)
                };
            }
            ast::IoRedirect::OutputAndError(w, append) => {
                let (args, _) = self.word(w, src, frame, st);
                let target = args.into_iter().next().unwrap_or_else(Arg::unknown);
                let kind = if *append {
                    RedirectKind::Append
                } else {
                    RedirectKind::Write
                };
                out.push(Redirect { kind, target });
            }
        }
    }

    /// `<(…)` / `>(…)`: analyse the list; report the program that produces its output.
    fn process_substitution(
        &mut self,
        sub: &ast::SubshellCommand,
        src: &Src,
        frame: &Frame,
        st: &mut State,
    ) -> Option<String> {
        let mut f = frame.clone();
        f.via.push(Via::ProcessSubstitution);
        let start = self.out.commands.len();
        let mut inner = st.clone();
        self.compound_list(&sub.list, src, &f, &mut inner);
        // The last command of the list writes what the reader sees; a fetcher anywhere
        // in it makes the content remote.
        let cmds = &self.out.commands[start..];
        if let Some(fetch) = cmds
            .iter()
            .filter_map(|c| c.program())
            .find(|p| super::wrappers::is_fetcher(p))
        {
            return Some(fetch.to_string());
        }
        cmds.iter()
            .rev()
            .find_map(|c| c.program().map(str::to_string))
    }

    pub fn push(&mut self, cmd: Command) {
        if self.out.commands.len() >= MAX_COMMANDS {
            let frame = Frame {
                base: None,
                fallback: cmd.span.clone(),
                via: Vec::new(),
                depth: 0,
            };
            self.complex(&frame, "more commands than shellguard analyses");
            return;
        }
        self.out.commands.push(cmd);
    }

    fn simple(
        &mut self,
        sc: &ast::SimpleCommand,
        stdin_in: Stdin,
        src: &Src,
        frame: &Frame,
        st: &mut State,
    ) -> Output {
        let mut stdin = stdin_in;
        let mut argv: Vec<Arg> = Vec::new();
        let mut arg_subs: Vec<Vec<String>> = Vec::new();
        let mut env: Vec<(String, Arg)> = Vec::new();
        let mut redirects = Vec::new();
        let mut span: Option<Range<usize>> = None;
        let widen = |r: Range<usize>, span: &mut Option<Range<usize>>| {
            *span = Some(match span.take() {
                Some(s) => s.start.min(r.start)..s.end.max(r.end),
                None => r,
            });
        };
        let mut procsubs: Vec<(usize, Option<String>)> = Vec::new();

        // The parts of a simple command in source order; the name is a word like the others.
        enum Part<'p> {
            Item(&'p Item, bool),
            Name(&'p ast::Word),
        }
        let prefix = sc
            .prefix
            .iter()
            .flat_map(|p| p.0.iter().map(|i| Part::Item(i, true)));
        let name = sc.word_or_name.iter().map(Part::Name);
        let suffix = sc
            .suffix
            .iter()
            .flat_map(|s| s.0.iter().map(|i| Part::Item(i, false)));
        for part in prefix.chain(name).chain(suffix) {
            let (item, is_prefix) = match part {
                Part::Name(w) | Part::Item(Item::Word(w), _) => {
                    if let Some(l) = &w.loc {
                        widen(src.byte_range(l, frame), &mut span);
                    }
                    let (args, subs) = self.argv_word(w, src, frame, st);
                    for a in args {
                        argv.push(a);
                        arg_subs.push(subs.clone());
                    }
                    continue;
                }
                Part::Item(item, is_prefix) => (item, is_prefix),
            };
            match item {
                Item::Word(_) => unreachable!("handled with the name"),
                Item::IoRedirect(io) => {
                    if let Some(r) = redirect_loc(io) {
                        widen(src.byte_range(&r, frame), &mut span);
                    }
                    self.redirect(io, src, frame, st, &mut redirects, &mut stdin);
                }
                Item::AssignmentWord(a, w) => {
                    if let Some(l) = &w.loc {
                        widen(src.byte_range(l, frame), &mut span);
                    }
                    let (name, value) = self.assignment(a, src, frame, st);
                    if is_prefix || argv.is_empty() {
                        env.push((name, value));
                    } else {
                        // `export A=B`, `declare A=B`: an argument of the builtin.
                        let text = format!("{name}={}", value.text);
                        argv.push(Arg { text, ..value });
                        arg_subs.push(Vec::new());
                    }
                }
                Item::ProcessSubstitution(_, sub) => {
                    widen(src.byte_range(&sub.loc, frame), &mut span);
                    let produced = self.process_substitution(sub, src, frame, st);
                    procsubs.push((argv.len(), produced));
                    argv.push(Arg {
                        text: "/dev/fd/63".into(),
                        dynamic: true,
                        glob: false,
                        quoted: false,
                    });
                    arg_subs.push(Vec::new());
                }
            }
        }
        let span = span.unwrap_or(frame.fallback.clone());

        // A line of assignments only: they change the state.
        if argv.is_empty() {
            for (name, value) in &env {
                self.note_command_string(name, value, &span, frame, st);
                let v = if value.dynamic {
                    Value::Unknown
                } else {
                    Value::Known(value.text.clone())
                };
                st.scope.assigned.insert(name.clone(), v);
            }
            if !redirects.is_empty() {
                self.push(Command {
                    argv,
                    env,
                    redirects,
                    stdin,
                    cwd: st.cwd.clone(),
                    span,
                    via: frame.via.clone(),
                });
            }
            return Output::Program(None);
        }

        for (name, value) in &env {
            self.note_command_string(name, value, &span, frame, st);
        }
        let cmd = Command {
            argv,
            env,
            redirects,
            stdin,
            cwd: st.cwd.clone(),
            span: span.clone(),
            via: frame.via.clone(),
        };
        let program = cmd.program().map(str::to_string);
        let name_word = sc
            .word_or_name
            .as_ref()
            .map(|w| w.value.as_str())
            .unwrap_or("");
        if program.is_some() && names_a_variable(name_word) {
            // A command name taken from a variable is a dynamic command name even when the
            // value is known here: whatever it holds runs (policy.md, "Unknown").
            self.finding(
                FindingKind::DynamicProgram,
                span.clone(),
                format!("the program to run comes from `{name_word}`"),
            );
        } else if program.is_none() && cmd.argv[0].dynamic {
            let ok = self.is_function_call(&cmd);
            if !ok {
                self.finding(
                    FindingKind::DynamicProgram,
                    span.clone(),
                    "the program to run is only known when the line runs",
                );
            }
        }
        self.builtin_state(&cmd, st);
        let output = output_of(&cmd);
        let idx = self.out.commands.len();
        self.push(cmd);
        if let Some(c) = self.out.commands.get(idx).cloned() {
            let ctx = super::wrappers::CmdCtx {
                arg_subs: &arg_subs,
                procsubs: &procsubs,
            };
            self.unwrap(&c, &ctx, frame, st);
            self.runner_call(&c, frame, st);
            self.alias_call(&c, name_word, frame, st);
        }
        output
    }

    /// A command named by an alias defined earlier in the text is judged by what the alias
    /// says as well as by its name: bash expands it when aliases are on (an interactive
    /// shell, `shopt -s expand_aliases`), which the text itself may arrange.
    fn alias_call(&mut self, cmd: &Command, name_word: &str, frame: &Frame, st: &State) {
        let Some(name) = cmd.program() else { return };
        // A quoted or escaped name is never an alias.
        if name_word != name {
            return;
        }
        let Some((_, value)) = st.aliases.iter().rev().find(|(n, _)| n == name) else {
            return;
        };
        let Some(value) = value.clone() else {
            self.finding(
                FindingKind::DynamicProgram,
                cmd.span.clone(),
                format!("the alias `{name}` is only known when the line runs"),
            );
            return;
        };
        let mut text = value;
        for a in cmd.args() {
            text.push(' ');
            if a.dynamic {
                text.push_str("\"${__shellguard_unknown}\"");
            } else {
                text.push_str(&shlex::try_quote(&a.text).unwrap_or_default());
            }
        }
        let f = self.sub_frame(
            frame,
            &text,
            cmd.span.clone(),
            Via::CommandString(format!("alias {name}")),
        );
        let mut sub = st.clone();
        // bash does not expand an alias inside its own expansion.
        sub.aliases.retain(|(n, _)| n != name);
        self.text(&text, &f, &mut sub);
    }

    /// A call to a function that runs its arguments: judged by what it runs.
    fn runner_call(&mut self, cmd: &Command, frame: &Frame, st: &State) {
        let Some(name) = cmd.program() else { return };
        if self.runners.contains_key(name) {
            let via = Via::Wrapper(name.to_string());
            self.nested_argv(cmd, cmd.args().to_vec(), via, frame, st);
        }
    }

    /// Held findings go back when a function can be called after this line: exported to
    /// child shells (`export -f`) or printed for another shell to read (`declare -f`), after
    /// it was defined, by its name or with every function.
    fn release_runners(&mut self) {
        let runners = std::mem::take(&mut self.runners);
        for (name, r) in runners {
            let outlives = self.out.commands.iter().skip(r.defined_at).any(|c| {
                let serialises = matches!(
                    c.program(),
                    Some("export" | "declare" | "typeset" | "readonly" | "local")
                ) && c
                    .args()
                    .iter()
                    .any(|a| a.text.starts_with('-') && a.text.contains('f'));
                let names: Vec<&Arg> = c
                    .args()
                    .iter()
                    .filter(|a| !a.text.starts_with('-'))
                    .collect();
                serialises
                    && (names.is_empty() || names.iter().any(|a| a.dynamic || a.text == name))
            });
            if outlives {
                self.out.findings.extend(r.held);
            }
        }
    }

    fn is_function_call(&self, cmd: &Command) -> bool {
        let t = &cmd.argv[0].text;
        !t.is_empty() && self.functions.contains_key(t.as_str())
    }

    fn assignment(
        &mut self,
        a: &ast::Assignment,
        src: &Src,
        frame: &Frame,
        st: &mut State,
    ) -> (String, Arg) {
        let name = match &a.name {
            ast::AssignmentName::VariableName(n) => n.clone(),
            ast::AssignmentName::ArrayElementName(n, _) => n.clone(),
        };
        let value = match &a.value {
            ast::AssignmentValue::Scalar(w) => {
                let (args, _) = self.word(w, src, frame, st);
                // An assignment is not split or globbed.
                Arg::joined(&args)
            }
            ast::AssignmentValue::Array(items) => {
                for (k, v) in items {
                    if let Some(k) = k {
                        self.word(k, src, frame, st);
                    }
                    self.word(v, src, frame, st);
                }
                Arg::unknown()
            }
        };
        let value = if a.append || matches!(a.name, ast::AssignmentName::ArrayElementName(..)) {
            Arg {
                dynamic: true,
                ..value
            }
        } else {
            value
        };
        (name, value)
    }

    /// `cd`, `export`, `set --` and friends change what later words mean.
    fn builtin_state(&mut self, cmd: &Command, st: &mut State) {
        let Some(mut prog) = cmd.program() else {
            return;
        };
        let mut args = cmd.args();
        // `builtin cd ..`, `command cd ..` run in this shell too.
        while matches!(prog, "builtin" | "command")
            && !args.is_empty()
            && !args[0].text.starts_with('-')
        {
            prog = args[0].text.as_str();
            args = &args[1..];
        }
        if let Some(&changed) = self.functions.get(prog) {
            // A function whose body changes directory: after the call, where we are is not
            // known here.
            if changed {
                st.cwd = None;
            }
        }
        match prog {
            "cd" | "pushd" => {
                let operands: Vec<&Arg> = args
                    .iter()
                    .filter(|a| !a.text.starts_with('-') || a.text == "-")
                    .collect();
                let old = st.cwd.clone();
                st.cwd = match operands.first() {
                    None if prog == "cd" => self.ctx.vars.get("HOME").map(PathBuf::from),
                    None => None,
                    // `cd "$d"` in `for d in pkgs/*`: one directory below pkgs/ (the quoted
                    // word cannot split; an unquoted glob could match several and fail).
                    Some(a) if a.glob && a.quoted && !a.dynamic && one_path_pattern(&a.text) => {
                        super::paths::resolve(&a.text, st.cwd.as_deref())
                    }
                    Some(a) if a.dynamic || a.glob || a.text == "-" || a.text.starts_with('+') => {
                        None
                    }
                    Some(a) => super::paths::resolve(&a.text, st.cwd.as_deref()),
                };
                if prog == "pushd" {
                    st.dirstack.push(old);
                }
            }
            "alias" => {
                for a in args.iter().filter(|a| !a.text.starts_with('-')) {
                    if let Some((name, value)) = a.text.split_once('=') {
                        let value = (!a.dynamic).then(|| value.to_string());
                        st.aliases.push((name.to_string(), value));
                    }
                }
            }
            "unalias" => {
                if args.iter().any(|a| a.text == "-a") {
                    st.aliases.clear();
                }
                st.aliases
                    .retain(|(n, _)| !args.iter().any(|a| a.dynamic || a.text == *n));
            }
            "popd" => {
                st.cwd = st.dirstack.pop().flatten();
            }
            "export" | "declare" | "typeset" | "local" | "readonly" => {
                for a in args {
                    if let Some((name, value)) = a.text.split_once('=') {
                        let v = if a.dynamic {
                            Value::Unknown
                        } else {
                            Value::Known(value.to_string())
                        };
                        st.scope.assigned.insert(name.to_string(), v);
                    }
                }
            }
            "unset" => {
                for a in args.iter().filter(|a| !a.text.starts_with('-')) {
                    st.scope.assigned.insert(a.text.clone(), Value::Unknown);
                }
            }
            "set" => {
                if let Some(i) = args.iter().position(|a| a.text == "--") {
                    st.scope.positional = if args[i + 1..].iter().any(|a| a.dynamic || a.glob) {
                        None
                    } else {
                        Some(args[i + 1..].iter().map(|a| a.text.clone()).collect())
                    };
                }
            }
            "shift" => {
                let n = args
                    .first()
                    .and_then(|a| a.text.parse::<usize>().ok())
                    .unwrap_or(1);
                if let Some(p) = &mut st.scope.positional {
                    let n = n.min(p.len());
                    p.drain(..n);
                }
            }
            "read" | "mapfile" | "readarray" | "getopts" | "printf" => {
                // They assign variables from input.
                for a in args.iter().filter(|a| !a.text.starts_with('-')) {
                    let name = !a.text.is_empty()
                        && a.text
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_');
                    if name && prog != "printf" {
                        st.scope.assigned.insert(a.text.clone(), Value::Unknown);
                    }
                }
                if prog == "printf" {
                    if let Some(i) = args.iter().position(|a| a.text == "-v") {
                        if let Some(v) = args.get(i + 1) {
                            st.scope.assigned.insert(v.text.clone(), Value::Unknown);
                        }
                    }
                }
            }
            _ => {}
        }
    }

    /// A variable that programs run as a command line (`GIT_SSH_COMMAND`, `EDITOR`, …).
    pub fn note_command_string(
        &mut self,
        name: &str,
        value: &Arg,
        span: &Range<usize>,
        frame: &Frame,
        st: &State,
    ) {
        if !super::wrappers::COMMAND_STRING_VARS.contains(&name) {
            return;
        }
        if value.dynamic {
            if !value.text.is_empty() {
                self.finding(
                    FindingKind::DynamicCode,
                    span.clone(),
                    format!("`{name}` is set to a command line only known when it runs"),
                );
            }
            return;
        }
        let f = self.sub_frame(
            frame,
            &value.text,
            span.clone(),
            Via::CommandString(name.to_string()),
        );
        let mut sub = st.clone();
        self.text(&value.text.clone(), &f, &mut sub);
    }
}

/// A command word that is just a variable (`$W`, `"${W}"`), or a variable whose value
/// became several words: code kept in a variable.
fn names_a_variable(word: &str) -> bool {
    let w = word.trim_matches('"');
    if matches!(w, "$@" | "${@}")
        || !w.starts_with('$')
        || w.starts_with("$'")
        || w.starts_with("$(")
        || w.starts_with("$((")
    {
        return false;
    }
    let name = w
        .trim_start_matches('$')
        .trim_start_matches('{')
        .trim_end_matches('}');
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// After a branch that may or may not run, what it changed is no longer known.
/// Values of a `for` list walked one by one; more than this and the variable is unknown.
const MAX_LOOP_VALUES: usize = 8;

/// What a `for` variable holds for one word of its list, or `None` when it cannot be told.
fn loop_value(a: &Arg) -> Option<Value> {
    if a.dynamic {
        return None;
    }
    if !a.glob {
        return Some(Value::Known(a.text.clone()));
    }
    one_path_pattern(&a.text).then(|| Value::OneOf(a.text.clone()))
}

/// A glob whose every match is a path below its literal part: no `..`, no component that
/// could match a dot-name, nothing that brace expansion could still turn into `..`.
pub(super) fn one_path_pattern(p: &str) -> bool {
    !p.contains(['{', '}'])
        && p.split('/').all(|c| {
            c != ".." && !(c.contains(['*', '?', '[']) && (c.starts_with('.') || c.contains('[')))
        })
}

fn merge(st: &mut State, branch: &State) {
    if st.cwd != branch.cwd {
        st.cwd = None;
    }
    for (k, v) in &branch.scope.assigned {
        if st.scope.assigned.get(k) != Some(v) {
            st.scope.assigned.insert(k.clone(), Value::Unknown);
        }
    }
    if st.scope.positional != branch.scope.positional {
        st.scope.positional = None;
    }
    // An alias defined on either path may be in force after.
    for a in &branch.aliases {
        if !st.aliases.contains(a) {
            st.aliases.push(a.clone());
        }
    }
}

/// `find` actions that print something other than the names found, or run commands.
const FIND_PRINTS_OTHER: &[&str] = &[
    "-printf", "-fprintf", "-exec", "-execdir", "-ok", "-okdir", "-ls", "-fls",
];

/// What a command writes on stdout, for the next command in a pipe.
fn output_of(cmd: &Command) -> Output {
    let prog = cmd.program().map(str::to_string);
    match prog.as_deref() {
        Some("echo") | Some("printf") => {
            let args: Vec<&Arg> = cmd
                .args()
                .iter()
                .skip_while(|a| {
                    prog.as_deref() == Some("echo") && a.text.starts_with('-') && a.text.len() > 1
                })
                .collect();
            if args.iter().any(|a| a.dynamic) {
                return Output::Program(prog);
            }
            let mut text = args
                .iter()
                .map(|a| a.text.as_str())
                .collect::<Vec<_>>()
                .join(" ");
            if prog.as_deref() == Some("printf") {
                text = text.replace("\\n", "\n");
            }
            Output::Text(text)
        }
        Some("cat") if cmd.args().is_empty() => match &cmd.stdin {
            Stdin::Text(t) => Output::Text(t.clone()),
            Stdin::Program(p) => Output::Program(p.clone()),
            Stdin::Found(places) => Output::Found(places.clone()),
            Stdin::Inherited => Output::Program(prog),
        },
        Some("find")
            if !cmd
                .args()
                .iter()
                .any(|a| FIND_PRINTS_OTHER.contains(&a.text.as_str())) =>
        {
            Output::Found(super::wrappers::find_reaches(cmd.args()))
        }
        _ => Output::Program(prog),
    }
}

fn compound_loc(c: &ast::CompoundCommand) -> Option<brush_parser::SourceSpan> {
    use ast::CompoundCommand as C;
    Some(match c {
        C::Arithmetic(a) => a.loc.clone(),
        C::ArithmeticForClause(a) => a.loc.clone(),
        C::BraceGroup(a) => a.loc.clone(),
        C::Subshell(a) => a.loc.clone(),
        C::ForClause(a) => a.loc.clone(),
        C::CaseClause(a) => a.loc.clone(),
        C::IfClause(a) => a.loc.clone(),
        C::WhileClause(a) | C::UntilClause(a) => a.2.clone(),
        C::Coprocess(a) => a.loc.clone(),
    })
}

fn redirect_loc(io: &ast::IoRedirect) -> Option<brush_parser::SourceSpan> {
    use ast::IoFileRedirectTarget as T;
    match io {
        ast::IoRedirect::File(_, _, T::Filename(w)) => w.loc.clone(),
        ast::IoRedirect::File(_, _, T::ProcessSubstitution(_, s)) => Some(s.loc.clone()),
        ast::IoRedirect::HereDocument(_, d) => d.here_end.loc.clone(),
        ast::IoRedirect::HereString(_, w) => w.loc.clone(),
        ast::IoRedirect::OutputAndError(w, _) => w.loc.clone(),
        _ => None,
    }
}

/// Whether a function body calls `name` in a pipeline or in the background.
fn fork_bomb_body(body: &ast::CompoundCommand, name: &str) -> bool {
    let list = match body {
        ast::CompoundCommand::BraceGroup(g) => &g.list,
        ast::CompoundCommand::Subshell(s) => &s.list,
        _ => return false,
    };
    let calls = |p: &ast::Pipeline| {
        p.seq
            .iter()
            .filter(|c| match c {
                ast::Command::Simple(s) => s.word_or_name.as_ref().is_some_and(|w| w.value == name),
                _ => false,
            })
            .count()
    };
    list.0.iter().any(|item| {
        let bg = matches!(item.1, ast::SeparatorOperator::Async);
        let mut pipes =
            std::iter::once(&item.0.first).chain(item.0.additional.iter().map(|a| match a {
                ast::AndOr::And(p) | ast::AndOr::Or(p) => p,
            }));
        pipes.any(|p| {
            let n = calls(p);
            n >= 2 || (n >= 1 && bg)
        })
    })
}

/// The text being walked, with the mapping from brush's character positions to bytes.
pub(super) struct Src<'s> {
    pub text: &'s str,
    ascii: bool,
}

impl<'s> Src<'s> {
    fn new(text: &'s str) -> Self {
        Src {
            text,
            ascii: text.is_ascii(),
        }
    }

    fn byte_at(&self, char_index: usize) -> usize {
        if self.ascii {
            return char_index.min(self.text.len());
        }
        self.text
            .char_indices()
            .nth(char_index)
            .map(|(b, _)| b)
            .unwrap_or(self.text.len())
    }

    fn slice(&self, loc: &brush_parser::SourceSpan) -> &'s str {
        let s = self.byte_at(loc.start.index);
        let e = self.byte_at(loc.end.index).max(s);
        self.text.get(s..e).unwrap_or("")
    }

    /// A location in this text as a byte range of the top-level input.
    fn byte_range(&self, loc: &brush_parser::SourceSpan, frame: &Frame) -> Range<usize> {
        match frame.base {
            Some(base) => {
                let s = self.byte_at(loc.start.index);
                let e = self.byte_at(loc.end.index).max(s);
                base + s..base + e
            }
            None => frame.fallback.clone(),
        }
    }

    fn span_of(&self, loc: Option<&brush_parser::SourceSpan>, frame: &Frame) -> Range<usize> {
        loc.map(|l| self.byte_range(l, frame))
            .unwrap_or(frame.fallback.clone())
    }
}

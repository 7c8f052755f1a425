//! Where results go: aligned tables and sentences for people, one JSON object a line for scripts;
//! and the exit code of each outcome.
use prost_reflect::{DescriptorPool, DynamicMessage};
use std::process::ExitCode;
use std::sync::OnceLock;

/// How a command ended, as its exit code says (listed in `loyalty --help`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    Done = 0,
    Failed = 1,
    BadInput = 3,
    NotFound = 4,
    NotAllowed = 5,
    Conflict = 6,
    Unavailable = 7,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e as u8)
    }
}

/// The outcome a gRPC status stands for.
pub fn exit_of(status: &tonic::Status) -> Exit {
    use tonic::Code;
    match status.code() {
        Code::InvalidArgument | Code::OutOfRange => Exit::BadInput,
        Code::NotFound => Exit::NotFound,
        Code::PermissionDenied | Code::Unauthenticated => Exit::NotAllowed,
        Code::AlreadyExists | Code::Aborted | Code::FailedPrecondition => Exit::Conflict,
        Code::Unavailable | Code::DeadlineExceeded | Code::ResourceExhausted => Exit::Unavailable,
        _ => Exit::Failed,
    }
}

/// What the user should do next about `status`, if there is something to say.
fn next_step(status: &tonic::Status) -> Option<&'static str> {
    match (status.code(), status.message()) {
        (tonic::Code::Unauthenticated, m) if m.contains("expired") => Some(
            "get a new token: restart `loyalty dev up` (it writes .data/dev-token), or `loyalty token --tenant demo --rights '*' > .data/dev-token`",
        ),
        (tonic::Code::Unauthenticated, _) => {
            Some("check the token: --token, LOYALTY_TOKEN or --token-file (.data/dev-token)")
        }
        (tonic::Code::PermissionDenied, m) if m.contains("stores") => {
            Some("act for one of your token's stores (--store), or ask for a token scoped to that store")
        }
        (tonic::Code::PermissionDenied, m) if m.contains("needs the right") => {
            Some("ask for a token with the right named above")
        }
        (tonic::Code::Unavailable, _) => {
            Some("is the suite running? `make dev` starts it; --endpoint or LOYALTY_ENDPOINT says where it is")
        }
        _ => None,
    }
}

/// Human or JSON output for one run.
pub struct Output {
    json: bool,
}

fn pool() -> &'static DescriptorPool {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    POOL.get_or_init(|| {
        DescriptorPool::decode(loyalty_api::FILE_DESCRIPTOR_SET).unwrap_or_else(|_| DescriptorPool::new())
    })
}

/// A message of the contracts as canonical protobuf JSON.
pub fn to_json<M: prost::Message>(message: &M, full_name: &str) -> serde_json::Value {
    let Some(desc) = pool().get_message_by_name(full_name) else { return serde_json::Value::Null };
    match DynamicMessage::decode(desc, message.encode_to_vec().as_slice()) {
        Ok(dynamic) => serde_json::to_value(&dynamic).unwrap_or(serde_json::Value::Null),
        Err(_) => serde_json::Value::Null,
    }
}

/// The full name of a generated message type, for [`to_json`].
pub fn name_of<M: prost::Name>() -> String {
    M::full_name()
}

impl Output {
    pub fn new(json: bool) -> Self {
        Self { json }
    }

    pub fn json(&self) -> bool {
        self.json
    }

    /// Writes one result: `human` for people, the message as JSON for scripts.
    pub fn one<M: prost::Message + prost::Name>(&self, message: &M, human: impl FnOnce() -> String) {
        if self.json {
            println!("{}", to_json(message, &name_of::<M>()));
        } else {
            println!("{}", human());
        }
    }

    /// Writes a list: an aligned table for people, one JSON object a line for scripts.
    pub fn list<M: prost::Message + prost::Name>(&self, items: &[M], table: impl FnOnce() -> Table, footer: &str) {
        if self.json {
            for item in items {
                println!("{}", to_json(item, &name_of::<M>()));
            }
        } else {
            print!("{}", table().render());
            if !footer.is_empty() {
                println!("{footer}");
            }
        }
    }

    /// A plain JSON value for scripts, a sentence for people.
    /// Writes a list as blocks of text for people (`human`), one JSON object a line for scripts.
    pub fn records<M: prost::Message + prost::Name>(&self, items: &[M], human: impl FnOnce() -> String) {
        if self.json {
            for item in items {
                println!("{}", to_json(item, &name_of::<M>()));
            }
        } else {
            print!("{}", human());
        }
    }

    pub fn value(&self, value: serde_json::Value, human: &str) {
        if self.json { println!("{value}") } else { println!("{human}") }
    }

    /// Reports `error` on stderr (with what to do next) and answers the exit code of its outcome.
    pub fn fail(&self, error: &anyhow::Error) -> ExitCode {
        let status = error.chain().find_map(|c| c.downcast_ref::<tonic::Status>());
        let exit = status.map(exit_of).unwrap_or(Exit::Failed);
        let message = match status {
            Some(s) => s.message().to_string(),
            None => format!("{error:#}"),
        };
        if self.json {
            let code = status.map(|s| format!("{:?}", s.code())).unwrap_or_else(|| "Failed".into());
            let fields: Vec<serde_json::Value> = status
                .map(loyalty_platform::error::field_violations)
                .unwrap_or_default()
                .into_iter()
                .map(|(field, reason)| serde_json::json!({ "field": field, "reason": reason }))
                .collect();
            eprintln!(
                "{}",
                serde_json::json!({ "error": message, "code": code, "fields": fields, "exit": exit as u8 })
            );
        } else {
            eprintln!("error: {message}");
            if let Some(step) = status.and_then(next_step) {
                eprintln!("  next: {step}");
            }
        }
        exit.into()
    }
}

/// Columns that line up, whatever the length of the longest email or name.
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(headers: &[&str]) -> Self {
        Self { headers: headers.iter().map(|h| h.to_string()).collect(), rows: Vec::new() }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn render(&self) -> String {
        let width = |s: &str| s.chars().count();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| width(h)).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate() {
                if let Some(w) = widths.get_mut(i) {
                    *w = (*w).max(width(cell));
                }
            }
        }
        let line = |cells: Vec<&str>| {
            let mut out = String::new();
            for (i, cell) in cells.iter().enumerate() {
                let last = i + 1 == cells.len();
                out.push_str(cell);
                if !last {
                    out.push_str(&" ".repeat(widths[i].saturating_sub(width(cell)) + 2));
                }
            }
            out.trim_end().to_string() + "\n"
        };
        let mut out = line(self.headers.iter().map(String::as_str).collect());
        for row in &self.rows {
            out.push_str(&line(row.iter().map(String::as_str).collect()));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up_with_long_cells() {
        let mut t = Table::new(&["name", "email"]);
        t.row(vec!["Ona".into(), "ona@example.lt".into()]);
        t.row(vec!["Šarūnas Žemaitis".into(), "x@y.pl".into()]);
        let text = t.render();
        let column_of = |line: &str, word: &str| line.find(word).map(|byte| line[..byte].chars().count());
        let lines: Vec<&str> = text.lines().collect();
        let header = column_of(lines[0], "email");
        assert_eq!(header, Some(18), "{text}");
        assert_eq!(column_of(lines[1], "ona@"), header, "{text}");
        assert_eq!(column_of(lines[2], "x@y"), header, "{text}");
    }

    #[test]
    fn statuses_map_to_exit_codes() {
        assert_eq!(exit_of(&tonic::Status::invalid_argument("x")), Exit::BadInput);
        assert_eq!(exit_of(&tonic::Status::not_found("x")), Exit::NotFound);
        assert_eq!(exit_of(&tonic::Status::unauthenticated("token expired")), Exit::NotAllowed);
        assert_eq!(exit_of(&tonic::Status::already_exists("x")), Exit::Conflict);
        assert_eq!(exit_of(&tonic::Status::unavailable("x")), Exit::Unavailable);
        assert!(next_step(&tonic::Status::unauthenticated("token expired")).is_some_and(|s| s.contains("new token")));
    }
}

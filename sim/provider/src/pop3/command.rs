//! Reading one POP3 command line (sans-IO): keyword and arguments as RFC 1939 §3 and the
//! extensions (RFC 2449 CAPA, RFC 2595 STLS, RFC 5034 AUTH) define them. The session decides
//! what a command means in its state; this only says what was asked, or why it cannot be read.

/// A command as the client sent it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Command {
    /// CAPA (RFC 2449 §5).
    Capa,
    /// STLS (RFC 2595 §4).
    Stls,
    /// USER name (RFC 1939 §7).
    User(String),
    /// PASS string; everything after `PASS ` is the password, spaces included (RFC 1939 §7).
    Pass(String),
    /// AUTH mechanism [initial-response] (RFC 5034 §4); `None` when no mechanism was named.
    Auth {
        mechanism: Option<String>,
        initial: Option<String>,
    },
    /// APOP (RFC 1939 §7): not offered.
    Apop,
    /// STAT.
    Stat,
    /// LIST [msg].
    List(Option<Msg>),
    /// RETR msg.
    Retr(Msg),
    /// DELE msg.
    Dele(Msg),
    /// NOOP.
    Noop,
    /// RSET.
    Rset,
    /// QUIT.
    Quit,
    /// UIDL [msg] (RFC 1939 §7).
    Uidl(Option<Msg>),
    /// TOP msg n (RFC 1939 §7).
    Top(Msg, usize),
}

/// A message number as written: 1-based; numbers too large for the machine saturate (there
/// is no such message either way).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Msg(pub usize);

/// Why a line is not a command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Bad {
    /// No command has this keyword.
    Unknown(String),
    /// A known keyword with arguments that do not fit; the text says how.
    Syntax(String),
}

impl Command {
    /// Reads a line without its CRLF.
    pub(super) fn parse(line: &[u8]) -> Result<Self, Bad> {
        if let Some(b) = line.iter().find(|b| b.is_ascii_control()) {
            return Err(Bad::Syntax(format!(
                "control character 0x{b:02X} in the command line; commands are text lines ending in CRLF (RFC 1939 section 3)"
            )));
        }
        let Ok(text) = std::str::from_utf8(line) else {
            return Err(Bad::Syntax("the command line is not UTF-8".into()));
        };
        let (keyword, rest) = match text.split_once(' ') {
            Some((k, r)) => (k, Some(r)),
            None => (text, None),
        };
        let keyword = keyword.to_ascii_uppercase();
        // PASS takes the rest of the line as it is: a password may contain spaces.
        if keyword == "PASS" {
            return match rest {
                Some(p) if !p.is_empty() => Ok(Command::Pass(p.to_string())),
                _ => Err(Bad::Syntax(
                    "PASS needs the password as its argument".into(),
                )),
            };
        }
        let args: Vec<&str> = rest.map_or_else(Vec::new, |r| r.split(' ').collect());
        if args.iter().any(|a| a.is_empty()) {
            return Err(Bad::Syntax(
                "arguments are separated by a single space (RFC 1939 section 3)".into(),
            ));
        }
        let none = |c: Command| {
            if args.is_empty() {
                Ok(c)
            } else {
                Err(Bad::Syntax(format!("{keyword} takes no arguments")))
            }
        };
        match keyword.as_str() {
            "CAPA" => none(Command::Capa),
            "STLS" => none(Command::Stls),
            "STAT" => none(Command::Stat),
            "NOOP" => none(Command::Noop),
            "RSET" => none(Command::Rset),
            "QUIT" => none(Command::Quit),
            "APOP" => Ok(Command::Apop),
            "USER" => match args.as_slice() {
                [name] => Ok(Command::User((*name).to_string())),
                _ => Err(Bad::Syntax("USER takes one argument, the mailbox".into())),
            },
            "AUTH" => match args.as_slice() {
                [] => Ok(Command::Auth {
                    mechanism: None,
                    initial: None,
                }),
                [m] => Ok(Command::Auth {
                    mechanism: Some(m.to_ascii_uppercase()),
                    initial: None,
                }),
                [m, i] => Ok(Command::Auth {
                    mechanism: Some(m.to_ascii_uppercase()),
                    initial: Some((*i).to_string()),
                }),
                _ => Err(Bad::Syntax(
                    "AUTH takes a mechanism and an optional initial response (RFC 5034 section 4)"
                        .into(),
                )),
            },
            "LIST" | "UIDL" => {
                let msg = match args.as_slice() {
                    [] => None,
                    [n] => Some(msg(n)?),
                    _ => {
                        return Err(Bad::Syntax(format!(
                            "{keyword} takes at most one argument, a message number"
                        )));
                    }
                };
                Ok(if keyword == "LIST" {
                    Command::List(msg)
                } else {
                    Command::Uidl(msg)
                })
            }
            "RETR" | "DELE" => match args.as_slice() {
                [n] => {
                    let m = msg(n)?;
                    Ok(if keyword == "RETR" {
                        Command::Retr(m)
                    } else {
                        Command::Dele(m)
                    })
                }
                _ => Err(Bad::Syntax(format!(
                    "{keyword} takes one argument, a message number"
                ))),
            },
            "TOP" => match args.as_slice() {
                [m, n] => Ok(Command::Top(
                    msg(m)?,
                    number(n).ok_or_else(|| {
                        Bad::Syntax("TOP's line count is a non-negative decimal number".into())
                    })?,
                )),
                _ => Err(Bad::Syntax(
                    "TOP takes two arguments: a message number and a line count".into(),
                )),
            },
            _ => Err(Bad::Unknown(keyword)),
        }
    }
}

/// A decimal number of digits only; too large saturates.
fn number(s: &str) -> Option<usize> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.parse().unwrap_or(usize::MAX))
}

fn msg(s: &str) -> Result<Msg, Bad> {
    number(s).map(Msg).ok_or_else(|| {
        Bad::Syntax(format!(
            "{:?} is not a message number (a decimal number from 1)",
            super::truncate(s, 40)
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keywords are case-insensitive; PASS keeps its spaces; numbers saturate; wrong argument
    /// counts, empty arguments, control characters and unknown keywords are told apart.
    #[test]
    fn commands_are_read_strictly() {
        assert_eq!(Command::parse(b"capa"), Ok(Command::Capa));
        assert_eq!(
            Command::parse(b"PASS a b  c"),
            Ok(Command::Pass("a b  c".into()))
        );
        assert_eq!(Command::parse(b"list"), Ok(Command::List(None)));
        assert_eq!(Command::parse(b"LIST 2"), Ok(Command::List(Some(Msg(2)))));
        assert_eq!(
            Command::parse(b"RETR 99999999999999999999999"),
            Ok(Command::Retr(Msg(usize::MAX)))
        );
        assert_eq!(Command::parse(b"TOP 1 0"), Ok(Command::Top(Msg(1), 0)));
        assert_eq!(
            Command::parse(b"auth plain AGEAYg=="),
            Ok(Command::Auth {
                mechanism: Some("PLAIN".into()),
                initial: Some("AGEAYg==".into())
            })
        );
        for bad in [
            &b"PASS"[..],
            b"PASS ",
            b"USER",
            b"USER a b",
            b"RETR",
            b"RETR x",
            b"RETR -1",
            b"LIST 1 2",
            b"TOP 1",
            b"TOP 1 x",
            b"STAT 1",
            b"QUIT now",
            b"LIST  1",
            b"NOOP\rQUIT",
            b"USER \0",
            b"USER \xff",
        ] {
            assert!(
                matches!(Command::parse(bad), Err(Bad::Syntax(_))),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        assert_eq!(Command::parse(b"HELO x"), Err(Bad::Unknown("HELO".into())));
        assert_eq!(Command::parse(b""), Err(Bad::Unknown(String::new())));
    }
}

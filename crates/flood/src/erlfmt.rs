//! The `log` action's format strings: the Erlang `io_lib:format` subset scenarios use
//! (FLOOD.md 4.2, 14.30): `~s`, `~p`, `~w`, `~b`/`~B`, `~n`, `~~`, with `t`/`l` modifiers and
//! field widths accepted and ignored. Also `{}` placeholders (FLOOD.md 13 recommendation).

use serde_json::Value;

use super::meta::to_text;

/// Formats `fmt` with `values`. A mismatch between directives and values is not an error (the
/// original only logged a formatting failure): the text says what went wrong instead.
pub fn format(fmt: &str, values: &[Value]) -> String {
    let mut out = String::with_capacity(fmt.len() + 16);
    let mut vals = values.iter();
    let mut chars = fmt.chars().peekable();
    let mut missing = false;
    while let Some(c) = chars.next() {
        if c == '{' && chars.peek() == Some(&'}') {
            chars.next();
            match vals.next() {
                Some(v) => out.push_str(&to_text(v)),
                None => missing = true,
            }
            continue;
        }
        if c != '~' {
            out.push(c);
            continue;
        }
        // Skip field width / precision / modifiers: digits, '.', '-', '*', 't', 'l'.
        let mut directive = None;
        for d in chars.by_ref() {
            if d.is_ascii_digit() || matches!(d, '.' | '-' | '*' | 't' | 'l') {
                continue;
            }
            directive = Some(d);
            break;
        }
        match directive {
            Some('n') => out.push('\n'),
            Some('~') => out.push('~'),
            Some('s') => match vals.next() {
                Some(v) => out.push_str(&string_of(v)),
                None => missing = true,
            },
            Some('p' | 'P' | 'w' | 'W' | 'b' | 'B' | 'e' | 'f' | 'g' | 'i') => match vals.next() {
                Some(v) => out.push_str(&v.to_string()),
                None => missing = true,
            },
            Some(other) => {
                out.push('~');
                out.push(other);
            }
            None => out.push('~'),
        }
    }
    if missing {
        out.push_str(" [log format error: too few values]");
    } else if vals.next().is_some() {
        out.push_str(" [log format error: too many values]");
    }
    out
}

/// `~s` of a value: strings verbatim, arrays of strings concatenated (Erlang iolists), anything
/// else as JSON.
fn string_of(v: &Value) -> String {
    match v {
        Value::Array(items) if items.iter().all(Value::is_string) => {
            items.iter().map(to_text).collect()
        }
        other => to_text(other),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn erlang_directives() {
        assert_eq!(
            format(
                "Bot ~s connected via ~s!",
                &[json!("bot_3"), json!("websocket")]
            ),
            "Bot bot_3 connected via websocket!"
        );
        assert_eq!(
            format("~p and ~w~n", &[json!("x"), json!([1])]),
            "\"x\" and [1]\n"
        );
        assert_eq!(
            format("~ts ~10s ~~", &[json!("a"), json!(["b", "c"])]),
            "a bc ~"
        );
        assert_eq!(format("n=~b", &[json!(5)]), "n=5");
        assert_eq!(format("{} {}", &[json!("a"), json!(1)]), "a 1");
    }

    #[test]
    fn mismatches_are_reported_in_the_line() {
        assert!(format("~s ~s", &[json!("a")]).contains("too few"));
        assert!(format("x", &[json!("a")]).contains("too many"));
    }
}

//! Session inheritance: closure order, effective `do` lists and metadata (FLOOD.md 3.4.1).

use std::collections::{HashMap, VecDeque};

use super::error::FloodError;

/// The closure order of session `start`: a breadth-first walk that enqueues each session's
/// `extends` in reverse, records first visits, and is then reversed. `start` is always last.
///
/// # Errors
/// [`FloodError::Scenario`] on an unknown base session or an inheritance cycle.
pub fn closure_order<'a>(
    start: &'a str,
    extends: &HashMap<&'a str, Vec<&'a str>>,
) -> Result<Vec<&'a str>, FloodError> {
    check_acyclic(start, extends, &mut Vec::new())?;
    let mut visited: Vec<&str> = Vec::new();
    let mut queue = VecDeque::from([start]);
    while let Some(s) = queue.pop_front() {
        if !visited.contains(&s) {
            visited.push(s);
        }
        let bases = extends.get(s).ok_or_else(|| {
            FloodError::scenario(&format!("sessions.{start}"), format!("unknown session {s}"))
        })?;
        queue.extend(bases.iter().rev());
    }
    visited.reverse();
    Ok(visited)
}

/// Depth-first cycle and unknown-name check.
fn check_acyclic<'a>(
    s: &'a str,
    extends: &HashMap<&'a str, Vec<&'a str>>,
    stack: &mut Vec<&'a str>,
) -> Result<(), FloodError> {
    if stack.contains(&s) {
        stack.push(s);
        return Err(FloodError::scenario(
            "sessions",
            format!("inheritance cycle {}", stack.join(" -> ")),
        ));
    }
    let Some(bases) = extends.get(s) else {
        let from = stack.last().copied().unwrap_or(s);
        return Err(FloodError::scenario(
            &format!("sessions.{from}.extends"),
            format!("unknown session {s}"),
        ));
    };
    stack.push(s);
    for b in bases {
        check_acyclic(b, extends, stack)?;
    }
    stack.pop();
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn graph<'a>(edges: &[(&'a str, &[&'a str])]) -> HashMap<&'a str, Vec<&'a str>> {
        edges.iter().map(|(k, v)| (*k, v.to_vec())).collect()
    }

    /// FLOOD.md 3.4.1 worked example (examples/1.json).
    #[test]
    fn worked_example_order() {
        let g = graph(&[
            ("a", &[]),
            ("b", &["a"]),
            ("c", &["a"]),
            ("d", &["b", "c"]),
            ("e", &["d", "c", "b"]),
        ]);
        assert_eq!(closure_order("e", &g).unwrap(), ["a", "d", "c", "b", "e"]);
    }

    #[test]
    fn chain_and_pair_orders() {
        let g = graph(&[
            ("debug", &[]),
            ("auth", &["debug"]),
            ("bot", &["auth"]),
            ("ws", &["bot"]),
            ("x", &[]),
            ("y", &[]),
            ("s", &["x", "y"]),
        ]);
        assert_eq!(
            closure_order("ws", &g).unwrap(),
            ["debug", "auth", "bot", "ws"]
        );
        assert_eq!(closure_order("s", &g).unwrap(), ["x", "y", "s"]);
    }

    #[test]
    fn cycles_and_unknown_bases_fail() {
        let g = graph(&[("a", &["b"]), ("b", &["a"])]);
        assert!(closure_order("a", &g).is_err());
        let g = graph(&[("a", &["nope"])]);
        let e = closure_order("a", &g).unwrap_err();
        assert!(e.to_string().contains("unknown session nope"), "{e}");
    }
}

//! The framing the Kafka and HTTP targets read their input in: lines, a blank line, then the
//! body, like an HTTP/1 message.
//!
//! ```text
//! ce_specversion: 1.0
//! ce_id: 0192f0c4-7c1e-7000-8000-000000000001
//! ce_tracestate
//!
//! {"order_id":"order-1"}
//! ```
//!
//! A line is `name: value` (split at the first colon, one space after it dropped) or a bare
//! `name`, which is a header whose value is null, as Kafka allows. Without a blank line there
//! is no body at all, which for a Kafka record is a null value. Any byte may appear in a name,
//! value or body except the newline that ends a line; that loses little, since no code under
//! test treats a newline differently from any other byte.

/// A message split into its head lines and its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message<'a> {
    pub lines: Vec<&'a [u8]>,
    pub body: Option<&'a [u8]>,
}

impl<'a> Message<'a> {
    pub fn parse(input: &'a [u8]) -> Self {
        let (head, body) = match input.windows(2).position(|pair| pair == b"\n\n") {
            Some(end) => (&input[..end], Some(&input[end + 2..])),
            None => (input, None),
        };
        let lines = if head.is_empty() {
            Vec::new()
        } else {
            head.split(|&byte| byte == b'\n').collect()
        };
        Self { lines, body }
    }
}

/// A head line as a header: its name and, unless the line has no colon, its value.
pub fn header(line: &[u8]) -> (&[u8], Option<&[u8]>) {
    match line.iter().position(|&byte| byte == b':') {
        Some(colon) => {
            let value = &line[colon + 1..];
            (&line[..colon], Some(value.strip_prefix(b" ").unwrap_or(value)))
        }
        None => (line, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_head_lines_a_blank_line_and_a_body() {
        let message = Message::parse(b"a: 1\nb\n\nbody\n\nmore");

        assert_eq!(message.lines, [&b"a: 1"[..], b"b"]);
        assert_eq!(message.body, Some(&b"body\n\nmore"[..]));
        assert_eq!(header(message.lines[0]), (&b"a"[..], Some(&b"1"[..])));
        assert_eq!(header(message.lines[1]), (&b"b"[..], None));
    }

    #[test]
    fn without_a_blank_line_there_is_no_body() {
        let message = Message::parse(b"a:1");

        assert_eq!(message.body, None);
        assert_eq!(header(message.lines[0]), (&b"a"[..], Some(&b"1"[..])));
        assert_eq!(Message::parse(b"\n\n").lines, Vec::<&[u8]>::new());
        assert_eq!(Message::parse(b"\n\n").body, Some(&b""[..]));
    }
}

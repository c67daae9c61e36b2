//! W3C Trace Context: the `traceparent` value the platform carries from an HTTP request to the
//! outbox row, from the outbox row to a Kafka header, and from there into the next function.
//!
//! Only `traceparent` is modelled. We keep no vendor state, so `tracestate` is neither read nor
//! written; the spec allows a participant to drop it.

use std::fmt;

/// The HTTP header (and Kafka / CloudEvents extension) name of a trace context.
pub const TRACEPARENT_HEADER: &str = "traceparent";

/// The only trace flag Level 1 of the spec defines. Every other bit must be written as zero.
const SAMPLED_FLAG: u8 = 0x01;

/// `00-` + 32 hex + `-` + 16 hex + `-` + 2 hex.
const VERSION_00_LENGTH: usize = 55;

/// The position of one unit of work in a distributed trace, as carried by `traceparent`.
///
/// `parent_id` is named after the header field: it is the span id the *next* hop will record as
/// its parent. After [`TraceContext::child`] it is therefore the id of the work we are doing now.
///
/// Ids are never all zeros (the spec calls such ids invalid), whichever constructor built the
/// value.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceContext {
    trace_id: [u8; 16],
    parent_id: [u8; 8],
    flags: u8,
}

impl TraceContext {
    /// Parses a `traceparent` header value, strictly per W3C Trace Context.
    ///
    /// Version `00` must be exactly 55 characters of lowercase hex and dashes, with non-zero
    /// trace and parent ids. Version `ff` is invalid. A later version is read the way the spec
    /// asks: its first 55 characters have the version-00 layout and anything after them must
    /// start with a dash; it is then carried on as version 00, the only version we can write.
    /// Returns `None` for anything else, and the caller starts a new trace.
    pub fn parse(traceparent: &str) -> Option<Self> {
        let bytes = traceparent.as_bytes();
        if bytes.len() < VERSION_00_LENGTH {
            return None;
        }
        let [version] = decode_lowercase_hex::<1>(&bytes[0..2])?;
        let well_sized = match version {
            0xff => false,
            0x00 => bytes.len() == VERSION_00_LENGTH,
            _ => bytes.len() == VERSION_00_LENGTH || bytes[VERSION_00_LENGTH] == b'-',
        };
        if !well_sized || bytes[2] != b'-' || bytes[35] != b'-' || bytes[52] != b'-' {
            return None;
        }
        let trace_id = decode_lowercase_hex::<16>(&bytes[3..35])?;
        let parent_id = decode_lowercase_hex::<8>(&bytes[36..52])?;
        let [flags] = decode_lowercase_hex::<1>(&bytes[53..55])?;
        if trace_id == [0; 16] || parent_id == [0; 8] {
            return None;
        }
        Some(Self {
            trace_id,
            parent_id,
            flags: flags & SAMPLED_FLAG,
        })
    }

    /// Starts a new trace: random trace and span ids, marked as sampled so that whatever
    /// tracing backend sits downstream records it.
    pub fn new_root() -> Self {
        Self {
            trace_id: random_non_zero_id(),
            parent_id: random_non_zero_id(),
            flags: SAMPLED_FLAG,
        }
    }

    /// The context of a new unit of work inside this one: same trace and flags, new span id.
    #[must_use]
    pub fn child(&self) -> Self {
        Self {
            parent_id: random_non_zero_id(),
            ..*self
        }
    }

    /// The `traceparent` value to send to the next hop (always version 00).
    pub fn to_header(&self) -> String {
        format!(
            "00-{}-{}-{:02x}",
            self.trace_id_hex(),
            self.parent_id_hex(),
            self.flags
        )
    }

    /// The trace id as 32 lowercase hex characters, the form log lines and tracing UIs use.
    pub fn trace_id_hex(&self) -> String {
        encode_lowercase_hex(&self.trace_id)
    }

    /// The span id the next hop will see as its parent, as 16 lowercase hex characters.
    pub fn parent_id_hex(&self) -> String {
        encode_lowercase_hex(&self.parent_id)
    }

    pub fn trace_id(&self) -> [u8; 16] {
        self.trace_id
    }

    pub fn parent_id(&self) -> [u8; 8] {
        self.parent_id
    }

    pub fn flags(&self) -> u8 {
        self.flags
    }

    /// Whether the caller asked for this trace to be recorded.
    pub fn is_sampled(&self) -> bool {
        self.flags & SAMPLED_FLAG != 0
    }
}

/// Formats as the `traceparent` header value.
impl fmt::Display for TraceContext {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.to_header())
    }
}

/// Hex ids, because byte arrays in a log line or a failed assertion are unreadable.
impl fmt::Debug for TraceContext {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("TraceContext")
            .field("trace_id", &self.trace_id_hex())
            .field("parent_id", &self.parent_id_hex())
            .field("flags", &format_args!("{:02x}", self.flags))
            .finish()
    }
}

fn random_non_zero_id<const N: usize>() -> [u8; N] {
    // An all-zero id is invalid; drawing one is astronomically unlikely but cheap to rule out.
    loop {
        let id: [u8; N] = rand::random();
        if id != [0; N] {
            return id;
        }
    }
}

/// Decodes exactly `2 * N` lowercase hex digits; uppercase is invalid in `traceparent`.
fn decode_lowercase_hex<const N: usize>(hex: &[u8]) -> Option<[u8; N]> {
    if hex.len() != 2 * N {
        return None;
    }
    let mut decoded = [0; N];
    for (byte, pair) in decoded.iter_mut().zip(hex.chunks_exact(2)) {
        *byte = (lowercase_hex_digit(pair[0])? << 4) | lowercase_hex_digit(pair[1])?;
    }
    Some(decoded)
}

fn lowercase_hex_digit(character: u8) -> Option<u8> {
    match character {
        b'0'..=b'9' => Some(character - b'0'),
        b'a'..=b'f' => Some(character - b'a' + 10),
        _ => None,
    }
}

fn encode_lowercase_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut hex = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        hex.push(char::from(DIGITS[usize::from(byte >> 4)]));
        hex.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    hex
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example from the W3C specification.
    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_valid_traceparent_is_accepted_and_written_back_unchanged() {
        let context = TraceContext::parse(VALID).expect("the spec example is valid");

        assert_eq!(context.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(context.parent_id_hex(), "00f067aa0ba902b7");
        assert!(context.is_sampled());
        assert_eq!(context.to_header(), VALID);
        assert_eq!(context.to_string(), VALID);
    }

    #[test]
    fn an_unsampled_traceparent_stays_unsampled() {
        let context = TraceContext::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")
            .expect("valid header");

        assert!(!context.is_sampled());
        assert!(context.to_header().ends_with("-00"));
    }

    #[test]
    fn a_traceparent_of_the_wrong_length_is_rejected() {
        assert_eq!(TraceContext::parse(""), None);
        assert_eq!(TraceContext::parse(&VALID[..54]), None);
        assert_eq!(TraceContext::parse(&format!("{VALID}0")), None);
        assert_eq!(
            TraceContext::parse(&format!("{VALID}-extra")),
            None,
            "v00 has no extra fields"
        );
        assert_eq!(
            TraceContext::parse("00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01"),
            None
        );
    }

    #[test]
    fn a_traceparent_with_uppercase_hex_is_rejected() {
        assert_eq!(TraceContext::parse(&VALID.to_uppercase()), None);
        assert_eq!(
            TraceContext::parse("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"),
            None
        );
        assert_eq!(
            TraceContext::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01"),
            None
        );
    }

    #[test]
    fn a_traceparent_with_an_all_zero_trace_id_is_rejected() {
        assert_eq!(
            TraceContext::parse("00-00000000000000000000000000000000-00f067aa0ba902b7-01"),
            None
        );
    }

    #[test]
    fn a_traceparent_with_an_all_zero_parent_id_is_rejected() {
        assert_eq!(
            TraceContext::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"),
            None
        );
    }

    #[test]
    fn a_traceparent_of_version_ff_is_rejected() {
        assert_eq!(
            TraceContext::parse("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            None
        );
    }

    #[test]
    fn a_traceparent_with_bad_separators_or_non_hex_characters_is_rejected() {
        assert_eq!(
            TraceContext::parse("00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            None
        );
        assert_eq!(
            TraceContext::parse("00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01"),
            None
        );
        assert_eq!(
            TraceContext::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7_01"),
            None
        );
        assert_eq!(
            TraceContext::parse("00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01"),
            None
        );
        assert_eq!(
            TraceContext::parse("0x-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            None
        );
        assert_eq!(
            TraceContext::parse(" 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            None
        );
    }

    #[test]
    fn a_future_version_is_read_through_its_version_00_prefix_and_forwarded_as_version_00() {
        let with_extra_field =
            "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-holds";
        let context = TraceContext::parse(with_extra_field).expect("future versions are tolerated");
        assert_eq!(context.to_header(), VALID);

        let exactly_55 = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert_eq!(
            TraceContext::parse(exactly_55).map(|c| c.to_header()),
            Some(VALID.to_owned())
        );

        let glued_extra = "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01xyz";
        assert_eq!(TraceContext::parse(glued_extra), None);
    }

    #[test]
    fn undefined_trace_flags_are_not_forwarded() {
        let context = TraceContext::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff")
            .expect("unknown flags do not make the header invalid");

        assert_eq!(context.flags(), 0x01);
        assert!(context.to_header().ends_with("-01"));
    }

    #[test]
    fn a_child_keeps_the_trace_id_and_flags_and_gets_a_new_parent_id() {
        let parent = TraceContext::parse(VALID).expect("valid header");
        let child = parent.child();

        assert_eq!(child.trace_id(), parent.trace_id());
        assert_eq!(child.flags(), parent.flags());
        assert_ne!(child.parent_id(), parent.parent_id());
        assert_ne!(child.parent_id(), [0; 8]);
    }

    #[test]
    fn a_new_root_is_a_sampled_valid_header_of_a_fresh_trace() {
        let first = TraceContext::new_root();
        let second = TraceContext::new_root();

        assert_eq!(TraceContext::parse(&first.to_header()), Some(first));
        assert!(first.is_sampled());
        assert_ne!(first.trace_id(), second.trace_id());
    }
}

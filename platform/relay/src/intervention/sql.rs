//! The ids an `INSERT` or `REPLACE` statement gives its rows, read from the statement's text.
//!
//! A statement-logged insert reaches the binlog as SQL text, not as rows. To republish what it
//! inserted, the relay reads the rows back from the outbox table, by the ids the statement
//! names. Only two shapes name them plainly, and only those are read:
//!
//! - `INSERT INTO t (c1, id, …) VALUES (…, 'id-1', …), (…)`: the value at `id`'s place;
//! - `INSERT INTO t SET id = 'id-1', …`.
//!
//! A value counts only if it is a plain string literal, optionally with the character set
//! introducer and `COLLATE` clause MariaDB adds when it logs a prepared statement's
//! parameters (`_utf8mb4'…' COLLATE 'utf8mb4_unicode_ci'`), or a hex literal. Anything else
//! (`INSERT … SELECT`, `UUID()`, no column list) gives `None`, and the operator names the
//! rows instead: guessing would risk publishing a row the statement did not insert.

/// One lexical token of a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// A keyword, identifier or number (backticks removed, case kept).
    Word(String),
    /// A quoted string, unescaped.
    Text(String),
    Punct(char),
}

/// The ids of the rows `statement` inserts, in order, or `None` when its text does not name
/// them plainly (see the module docs).
pub fn inserted_ids(statement: &str) -> Option<Vec<String>> {
    let tokens = tokens(statement)?;
    let mut rest = tokens.as_slice();
    // INSERT|REPLACE [LOW_PRIORITY|DELAYED|HIGH_PRIORITY] [IGNORE] [INTO] table
    let verb = word(rest.first()?)?;
    if !verb.eq_ignore_ascii_case("insert") && !verb.eq_ignore_ascii_case("replace") {
        return None;
    }
    rest = &rest[1..];
    while let Some(modifier) = rest.first().and_then(word) {
        if ["low_priority", "delayed", "high_priority", "ignore", "into"]
            .iter()
            .any(|keyword| modifier.eq_ignore_ascii_case(keyword))
        {
            rest = &rest[1..];
        } else {
            break;
        }
    }
    // The table: name or schema.name.
    word(rest.first()?)?;
    rest = &rest[1..];
    if rest.first() == Some(&Token::Punct('.')) {
        word(rest.get(1)?)?;
        rest = &rest[2..];
    }
    match rest.first()? {
        Token::Punct('(') => values_form(&rest[1..]),
        Token::Word(keyword) if keyword.eq_ignore_ascii_case("set") => set_form(&rest[1..]),
        _ => None,
    }
}

/// `(c1, c2, …) VALUES (v1, v2, …), (…) [ON DUPLICATE KEY UPDATE …]`, after the `(`.
fn values_form(tokens: &[Token]) -> Option<Vec<String>> {
    let close = tokens.iter().position(|token| *token == Token::Punct(')'))?;
    let columns: Vec<&str> = tokens[..close]
        .split(|token| *token == Token::Punct(','))
        .map(|column| match column {
            [Token::Word(name)] => Some(name.as_str()),
            _ => None,
        })
        .collect::<Option<_>>()?;
    let id_column = columns
        .iter()
        .position(|column| column.eq_ignore_ascii_case("id"))?;
    let mut rest = &tokens[close + 1..];
    let keyword = word(rest.first()?)?;
    if !keyword.eq_ignore_ascii_case("values") && !keyword.eq_ignore_ascii_case("value") {
        return None;
    }
    rest = &rest[1..];
    let mut ids = Vec::new();
    loop {
        if rest.first()? != &Token::Punct('(') {
            return None;
        }
        let (values, after) = tuple(&rest[1..])?;
        if values.len() != columns.len() {
            return None;
        }
        ids.push(literal(values[id_column])?);
        rest = after;
        match rest.first() {
            Some(Token::Punct(',')) => rest = &rest[1..],
            // The end, `;`, or an ON DUPLICATE KEY UPDATE clause, which adds no rows.
            _ => return Some(ids),
        }
    }
}

/// `SET c1 = v1, id = 'x', …`, after the `SET`.
fn set_form(tokens: &[Token]) -> Option<Vec<String>> {
    let mut depth = 0_usize;
    let mut assignments = vec![Vec::new()];
    for token in tokens {
        match token {
            Token::Punct('(') => depth += 1,
            Token::Punct(')') => depth = depth.checked_sub(1)?,
            Token::Punct(',') if depth == 0 => {
                assignments.push(Vec::new());
                continue;
            }
            Token::Word(keyword) if depth == 0 && keyword.eq_ignore_ascii_case("on") => break,
            _ => {}
        }
        assignments.last_mut()?.push(token.clone());
    }
    assignments
        .iter()
        .find_map(|assignment| match assignment.as_slice() {
            [Token::Word(column), Token::Punct('='), value @ ..] if column.eq_ignore_ascii_case("id") => {
                literal(value).map(|id| vec![id])
            }
            _ => None,
        })
}

/// Splits the values of one `( … )` tuple (after its `(`) at top-level commas; returns them
/// and what follows the closing `)`.
fn tuple(tokens: &[Token]) -> Option<(Vec<&[Token]>, &[Token])> {
    let mut depth = 0_usize;
    let mut values = Vec::new();
    let mut start = 0;
    for (index, token) in tokens.iter().enumerate() {
        match token {
            Token::Punct('(') => depth += 1,
            Token::Punct(')') if depth == 0 => {
                values.push(&tokens[start..index]);
                return Some((values, &tokens[index + 1..]));
            }
            Token::Punct(')') => depth -= 1,
            Token::Punct(',') if depth == 0 => {
                values.push(&tokens[start..index]);
                start = index + 1;
            }
            _ => {}
        }
    }
    None
}

/// A value that is a plain string: `'x'`, `_utf8mb4'x'`, `_utf8mb4'x' COLLATE 'c'`, `X'78'`.
fn literal(value: &[Token]) -> Option<String> {
    let value = match value {
        [before @ .., Token::Word(collate), Token::Text(_) | Token::Word(_)]
            if collate.eq_ignore_ascii_case("collate") =>
        {
            before
        }
        _ => value,
    };
    match value {
        [Token::Text(text)] => Some(text.clone()),
        [Token::Word(introducer), Token::Text(text)] if introducer.starts_with('_') => Some(text.clone()),
        [Token::Word(hex), Token::Text(digits)] if hex.eq_ignore_ascii_case("x") => from_hex(digits),
        _ => None,
    }
}

fn from_hex(digits: &str) -> Option<String> {
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    let bytes = (0..digits.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(digits.get(at..at + 2)?, 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    String::from_utf8(bytes).ok()
}

fn word(token: &Token) -> Option<&str> {
    match token {
        Token::Word(word) => Some(word),
        _ => None,
    }
}

/// The tokens of a statement; comments are dropped. `None` on an unterminated literal or
/// comment.
fn tokens(statement: &str) -> Option<Vec<Token>> {
    let mut tokens = Vec::new();
    let mut chars = statement.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {}
            '\'' | '"' => tokens.push(Token::Text(quoted(&mut chars, c)?)),
            '`' => {
                let mut name = String::new();
                loop {
                    match chars.next()? {
                        '`' if chars.peek() == Some(&'`') => {
                            chars.next();
                            name.push('`');
                        }
                        '`' => break,
                        other => name.push(other),
                    }
                }
                tokens.push(Token::Word(name));
            }
            '#' => {
                chars.by_ref().find(|&inner| inner == '\n');
            }
            '-' if chars.peek() == Some(&'-') => {
                let mut lookahead = chars.clone();
                lookahead.next();
                if lookahead
                    .peek()
                    .is_none_or(|next| next.is_whitespace() || next.is_control())
                {
                    chars.by_ref().find(|&inner| inner == '\n');
                } else {
                    tokens.push(Token::Punct(c));
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut previous = ' ';
                loop {
                    let inner = chars.next()?;
                    if previous == '*' && inner == '/' {
                        break;
                    }
                    previous = inner;
                }
            }
            c if c.is_alphanumeric() || c == '_' || c == '$' => {
                let mut text = String::from(c);
                while let Some(&next) = chars.peek() {
                    // A quote right after a word is a literal with an introducer (`_utf8mb4'x'`,
                    // `X'78'`): the word ends there.
                    if next.is_alphanumeric() || next == '_' || next == '$' {
                        text.push(next);
                        chars.next();
                    } else {
                        break;
                    }
                }
                tokens.push(Token::Word(text));
            }
            other => tokens.push(Token::Punct(other)),
        }
    }
    Some(tokens)
}

/// The rest of a literal opened by `quote`, unescaped (`''`, `\'`, `\\`, `\n`, …).
fn quoted(chars: &mut std::iter::Peekable<std::str::Chars<'_>>, quote: char) -> Option<String> {
    let mut text = String::new();
    loop {
        match chars.next()? {
            '\\' => match chars.next()? {
                'n' => text.push('\n'),
                't' => text.push('\t'),
                'r' => text.push('\r'),
                '0' => text.push('\0'),
                other => text.push(other),
            },
            c if c == quote && chars.peek() == Some(&quote) => {
                chars.next();
                text.push(quote);
            }
            c if c == quote => return Some(text),
            other => text.push(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(statement: &str) -> Option<Vec<String>> {
        inserted_ids(statement)
    }

    fn owned(ids: &[&str]) -> Option<Vec<String>> {
        Some(ids.iter().map(|id| (*id).to_owned()).collect())
    }

    #[test]
    fn the_id_column_of_every_row_of_a_values_list_is_read() {
        assert_eq!(
            ids("INSERT INTO ordering.outbox (aggregateid, id, payload) VALUES \
                 ('order-1', 'a1', JSON_OBJECT('k', 'v', 'n', 1)), ('order-2', 'a2', '{\"x\": \"it''s\"}')"),
            owned(&["a1", "a2"])
        );
        assert_eq!(
            ids(
                "insert ignore into `outbox` (`id`, `type`) value ('b1', 't') on duplicate key update type = 'u'"
            ),
            owned(&["b1"])
        );
        assert_eq!(
            ids("REPLACE LOW_PRIORITY INTO outbox (ID) VALUES (\"c1\");"),
            owned(&["c1"])
        );
    }

    #[test]
    fn parameters_of_a_logged_prepared_statement_are_read_through_their_introducers() {
        assert_eq!(
            ids("INSERT INTO outbox (id, type) VALUES \
                 (_utf8mb4'0190f1e2-0000-7000-8000-000000000001' COLLATE 'utf8mb4_unicode_ci', _utf8mb4't')"),
            owned(&["0190f1e2-0000-7000-8000-000000000001"])
        );
        assert_eq!(ids("INSERT INTO outbox (id) VALUES (X'6431')"), owned(&["d1"]));
    }

    #[test]
    fn the_set_form_is_read() {
        assert_eq!(
            ids("INSERT INTO ordering.outbox SET payload = JSON_OBJECT('a', 1), id = 'e1', type = 't'"),
            owned(&["e1"])
        );
    }

    #[test]
    fn statements_that_do_not_name_their_ids_plainly_give_nothing() {
        for statement in [
            "INSERT INTO outbox (id, type) VALUES (UUID(), 't')",
            "INSERT INTO outbox VALUES ('f1', 't')",
            "INSERT INTO outbox (id, type) SELECT id, type FROM staging",
            "INSERT INTO outbox (id, type) VALUES (CONCAT('f', '1'), 't')",
            "INSERT INTO outbox (id, type) VALUES ('f1')",
            "UPDATE outbox SET id = 'f1'",
            "INSERT INTO outbox (id) VALUES ('unterminated)",
            "LOAD DATA INFILE 'x' INTO TABLE outbox",
        ] {
            assert_eq!(ids(statement), None, "{statement}");
        }
    }

    #[test]
    fn comments_are_not_values() {
        assert_eq!(
            ids("/* the 'outbox' */ INSERT INTO outbox -- a note, ('x')\n (id) # ('y')\n VALUES ('g1')"),
            owned(&["g1"])
        );
    }
}

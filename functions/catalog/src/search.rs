//! Keyword search over product names and descriptions, in Korean as well as English, on
//! MariaDB's own FULLTEXT index (docs/adr/0038).
//!
//! MariaDB's InnoDB FULLTEXT parser splits text on spaces and punctuation. That finds English
//! words, but Korean is written in words that run together (무선이어폰, "wireless earphones"),
//! and MariaDB has no n-gram parser. So catalog tokenizes text itself and stores the tokens in
//! a column the index covers:
//!
//! - a run of Hangul (or other CJK) characters becomes every single character and every
//!   pair of neighbours (bigrams), so 이어폰 is found inside 무선이어폰;
//! - any other run of letters and digits is a word, found by itself or by a prefix (`head`
//!   finds `headphones`).
//!
//! Every token has a prefix of its kind (`wd` for a word, `k` + the characters' code points
//! in hex for an n-gram) and is at least three characters long, so MariaDB's minimum token
//! length (3 by default) and its stopword list never drop one.

/// Whether a character is written without spaces between words: Hangul, CJK ideographs and
/// Japanese kana.
fn is_ngram_script(character: char) -> bool {
    matches!(character as u32,
        0x1100..=0x11FF | 0x3130..=0x318F | 0xAC00..=0xD7AF // Hangul
        | 0x3040..=0x30FF // kana
        | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF) // CJK ideographs
}

/// English words too common to mean anything in a product search.
const STOPWORDS: &[&str] = &[
    "a", "an", "and", "for", "in", "of", "on", "or", "the", "to", "with",
];

/// Longer words are cut: MariaDB indexes tokens of at most 84 characters.
const MAX_WORD: usize = 40;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Run {
    Word(String),
    Ngram(Vec<char>),
}

/// Lowercased runs of letters and digits, split where the script changes.
fn runs(text: &str) -> Vec<Run> {
    let mut runs = Vec::new();
    let mut current: Option<Run> = None;
    for character in text.chars().flat_map(char::to_lowercase) {
        let next = if !character.is_alphanumeric() {
            None
        } else if is_ngram_script(character) {
            Some(true)
        } else {
            Some(false)
        };
        match (&mut current, next) {
            (Some(Run::Ngram(chars)), Some(true)) => chars.push(character),
            (Some(Run::Word(word)), Some(false)) => word.push(character),
            (_, next) => {
                runs.extend(current.take());
                current = match next {
                    Some(true) => Some(Run::Ngram(vec![character])),
                    Some(false) => Some(Run::Word(character.to_string())),
                    None => None,
                };
            }
        }
    }
    runs.extend(current);
    runs
}

fn word_token(word: &str) -> Option<String> {
    if STOPWORDS.contains(&word) {
        return None;
    }
    let word: String = word.chars().take(MAX_WORD).collect();
    // A word of other letters (é, ß) is kept as it is: the parser treats letters as letters.
    Some(format!("wd{word}"))
}

fn ngram_token(chars: &[char]) -> String {
    let mut token = String::from("k");
    for character in chars {
        token.push_str(&format!("{:x}", *character as u32));
        token.push('x');
    }
    token.pop();
    token
}

/// The tokens stored for a text, separated by spaces: what the FULLTEXT index covers.
pub fn index_tokens(text: &str) -> String {
    let mut tokens = Vec::new();
    for run in runs(text) {
        match run {
            Run::Word(word) => tokens.extend(word_token(&word)),
            Run::Ngram(chars) => {
                tokens.extend(chars.iter().map(|character| ngram_token(&[*character])));
                tokens.extend(chars.windows(2).map(ngram_token));
            }
        }
    }
    tokens.join(" ")
}

/// A shopper's keywords, checked: 1 to 100 characters with at least one token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keywords {
    boolean_query: String,
}

impl Keywords {
    pub fn parse(text: &str) -> Result<Self, crate::domain::InvalidInput> {
        let length = text.trim().chars().count();
        if !(1..=100).contains(&length) {
            return Err(crate::domain::InvalidInput::Keyword);
        }
        let mut terms = Vec::new();
        for run in runs(text) {
            match run {
                // Every word is required, and may be the start of a longer one.
                Run::Word(word) => terms.extend(word_token(&word).map(|token| format!("+{token}*"))),
                // One character must appear; a longer run must appear as all its neighbours.
                Run::Ngram(chars) if chars.len() == 1 => terms.push(format!("+{}", ngram_token(&chars))),
                Run::Ngram(chars) => {
                    terms.extend(chars.windows(2).map(|pair| format!("+{}", ngram_token(pair))))
                }
            }
        }
        if terms.is_empty() {
            return Err(crate::domain::InvalidInput::Keyword);
        }
        Ok(Self {
            boolean_query: terms.join(" "),
        })
    }

    /// The query for `MATCH (search_text) AGAINST (? IN BOOLEAN MODE)`.
    pub fn boolean_query(&self) -> &str {
        &self.boolean_query
    }
}

/// What a product's search column holds: its name twice (a match in the name ranks above one
/// in the description) and its description and brand once.
pub fn product_search_text(name: &str, description: &str, brand: Option<&str>) -> String {
    let name = index_tokens(name);
    [
        name.as_str(),
        name.as_str(),
        &index_tokens(description),
        &index_tokens(brand.unwrap_or("")),
    ]
    .iter()
    .filter(|part| !part.is_empty())
    .copied()
    .collect::<Vec<_>>()
    .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn english_words_are_lowercased_tokens_without_stopwords() {
        assert_eq!(
            index_tokens("The Wireless Earphones, v2, T-shirt!"),
            "wdwireless wdearphones wdv2 wdt wdshirt"
        );
    }

    #[test]
    fn korean_runs_become_characters_and_their_neighbours() {
        let tokens = index_tokens("무선이어폰");
        let bigram = ngram_token(&['이', '어']);
        let unigram = ngram_token(&['폰']);
        assert!(tokens.split(' ').any(|token| token == bigram), "{tokens}");
        assert!(tokens.split(' ').any(|token| token == unigram), "{tokens}");
        assert_eq!(tokens.split(' ').count(), 5 + 4);
    }

    #[test]
    fn a_korean_word_inside_a_compound_is_found_by_its_bigrams() {
        let index = index_tokens("블루투스 무선이어폰 화이트");
        let query = Keywords::parse("이어폰").expect("keywords");
        for term in query.boolean_query().split(' ') {
            let token = term.trim_start_matches('+');
            assert!(
                index.split(' ').any(|stored| stored == token),
                "{token} not in {index}"
            );
        }
    }

    #[test]
    fn mixed_script_text_splits_where_the_script_changes() {
        assert_eq!(
            runs("갤럭시S24 케이스"),
            vec![
                Run::Ngram(vec!['갤', '럭', '시']),
                Run::Word("s24".to_owned()),
                Run::Ngram(vec!['케', '이', '스'])
            ]
        );
    }

    #[test]
    fn english_keywords_are_required_prefixes_and_empty_ones_are_refused() {
        assert_eq!(
            Keywords::parse("Head phones").map(|query| query.boolean_query().to_owned()),
            Ok("+wdhead* +wdphones*".to_owned())
        );
        assert!(Keywords::parse("   ").is_err());
        assert!(Keywords::parse("the !!").is_err());
        assert!(Keywords::parse(&"x".repeat(101)).is_err());
        // Boolean operators a shopper types are just punctuation here.
        assert_eq!(
            Keywords::parse("-cup +\"mug\"").map(|query| query.boolean_query().to_owned()),
            Ok("+wdcup* +wdmug*".to_owned())
        );
    }
}

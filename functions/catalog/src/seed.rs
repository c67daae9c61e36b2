//! A realistic catalog for load tests and search measurements, generated from a seed: the
//! same seed and size always give the same products, so a search's right answers can be
//! known without reading what was stored.
//!
//! Twenty kinds of goods (earphones, laptops, T-shirts, coffee, …), each with Korean and
//! English names, a category, a price range and an option template; thirty brands; names in
//! Korean (40 %), English (40 %) or Korean with an English model code (20 %). Kinds are dealt
//! round-robin, so 10,000 products make 40,500 SKUs. Some kinds are chosen to be confusable
//! (이어폰 earphones and 이어링 earrings share 이어; 노트북 laptops, laptop bags and laptop
//! stands), so a search measurement has something to get wrong.
//!
//! [`write`] stores them through [`crate::products::create_product`], the same use case as
//! `POST /admin/products`: every product and SKU gets its events, so inventory opens their
//! stock and ordering prices them.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use sqlx::MySqlPool;
use store::outbox::EventContext;

use crate::brands;
use crate::domain::{BrandId, CategoryId, OptionGroupSpec, OptionSpec, Price, Text, product_id};
use crate::products::{self, CreateProductError, NewProduct};

/// One kind of goods.
#[derive(Debug, Clone, Copy)]
pub struct Kind {
    /// Stable name, used by the labelled search queries (`benches/search/queries.tsv`).
    pub key: &'static str,
    pub korean: &'static [&'static str],
    pub english: &'static [&'static str],
    pub category: &'static str,
    /// Base price range in won.
    pub price: (i64, i64),
    /// Option groups: name and options with their surcharge in won.
    pub options: &'static [(&'static str, &'static [(&'static str, i64)])],
}

const COLOURS: (&str, &[(&str, i64)]) = ("색상", &[("블랙", 0), ("화이트", 0), ("네이비", 0)]);
const SIZES: (&str, &[(&str, i64)]) = ("사이즈", &[("S", 0), ("M", 0), ("L", 0), ("XL", 2000)]);

pub const KINDS: &[Kind] = &[
    Kind {
        key: "earphones",
        korean: &["무선이어폰", "블루투스 이어폰", "이어폰"],
        english: &["Wireless Earphones", "Earbuds", "Earphones"],
        category: "audio",
        price: (19_000, 250_000),
        options: &[COLOURS],
    },
    Kind {
        key: "headphones",
        korean: &["헤드폰", "무선 헤드폰"],
        english: &["Headphones", "Over-ear Headphones"],
        category: "audio",
        price: (39_000, 450_000),
        options: &[COLOURS],
    },
    Kind {
        key: "earrings",
        korean: &["이어링", "실버 이어링"],
        english: &["Earrings", "Drop Earrings"],
        category: "jewellery",
        price: (9_000, 120_000),
        options: &[("소재", &[("실버", 0), ("골드", 30_000)])],
    },
    Kind {
        key: "phone-case",
        korean: &["폰케이스", "휴대폰 케이스", "스마트폰 케이스"],
        english: &["Phone Case", "Smartphone Case"],
        category: "mobile-accessories",
        price: (5_000, 39_000),
        options: &[("기종", &[("S24", 0), ("S23", 0), ("iPhone 15", 0)]), COLOURS],
    },
    Kind {
        key: "laptop",
        korean: &["노트북", "울트라북 노트북"],
        english: &["Laptop", "Ultrabook Laptop"],
        category: "computers",
        price: (690_000, 2_900_000),
        options: &[
            ("메모리", &[("16GB", 0), ("32GB", 200_000)]),
            ("저장장치", &[("512GB", 0), ("1TB", 150_000)]),
        ],
    },
    Kind {
        key: "laptop-bag",
        korean: &["노트북 가방", "노트북 파우치"],
        english: &["Laptop Bag", "Laptop Sleeve"],
        category: "bags",
        price: (15_000, 89_000),
        options: &[COLOURS],
    },
    Kind {
        key: "laptop-stand",
        korean: &["노트북 거치대"],
        english: &["Laptop Stand"],
        category: "computer-accessories",
        price: (12_000, 79_000),
        options: &[],
    },
    Kind {
        key: "t-shirt",
        korean: &["반팔 티셔츠", "티셔츠"],
        english: &["T-shirt", "Cotton T-shirt"],
        category: "tops",
        price: (9_900, 49_000),
        options: &[SIZES, COLOURS],
    },
    Kind {
        key: "hoodie",
        korean: &["후드티", "기모 후드티"],
        english: &["Hoodie", "Fleece Hoodie"],
        category: "tops",
        price: (29_000, 99_000),
        options: &[SIZES, COLOURS],
    },
    Kind {
        key: "running-shoes",
        korean: &["러닝화", "경량 러닝화"],
        english: &["Running Shoes", "Trail Running Shoes"],
        category: "shoes",
        price: (59_000, 259_000),
        options: &[(
            "사이즈",
            &[
                ("230", 0),
                ("240", 0),
                ("250", 0),
                ("260", 0),
                ("270", 0),
                ("280", 0),
                ("290", 0),
            ],
        )],
    },
    Kind {
        key: "mouse",
        korean: &["무선 마우스", "게이밍 마우스"],
        english: &["Wireless Mouse", "Gaming Mouse"],
        category: "computer-accessories",
        price: (9_000, 159_000),
        options: &[COLOURS],
    },
    Kind {
        key: "keyboard",
        korean: &["기계식 키보드", "무선 키보드"],
        english: &["Mechanical Keyboard", "Wireless Keyboard"],
        category: "computer-accessories",
        price: (29_000, 259_000),
        options: &[
            ("스위치", &[("적축", 0), ("갈축", 0), ("청축", 0)]),
            ("배열", &[("한글", 0), ("영문", 0)]),
        ],
    },
    Kind {
        key: "coffee-beans",
        korean: &["원두 커피", "싱글오리진 원두"],
        english: &["Coffee Beans", "Single Origin Coffee Beans"],
        category: "coffee",
        price: (9_000, 49_000),
        options: &[("중량", &[("200g", 0), ("500g", 9_000), ("1kg", 19_000)])],
    },
    Kind {
        key: "coffee-mug",
        korean: &["머그컵", "도자기 머그컵"],
        english: &["Coffee Mug", "Ceramic Coffee Mug"],
        category: "kitchen",
        price: (5_000, 29_000),
        options: &[],
    },
    Kind {
        key: "tumbler",
        korean: &["텀블러", "보온 텀블러"],
        english: &["Tumbler", "Insulated Tumbler"],
        category: "kitchen",
        price: (9_000, 59_000),
        options: &[("용량", &[("350ml", 0), ("500ml", 4_000)])],
    },
    Kind {
        key: "backpack",
        korean: &["백팩", "데일리 백팩"],
        english: &["Backpack", "Daily Backpack"],
        category: "bags",
        price: (29_000, 189_000),
        options: &[COLOURS],
    },
    Kind {
        key: "sunscreen",
        korean: &["선크림", "톤업 선크림"],
        english: &["Sunscreen", "Tone-up Sunscreen"],
        category: "skincare",
        price: (9_000, 39_000),
        options: &[],
    },
    Kind {
        key: "face-cream",
        korean: &["수분크림", "진정 수분크림"],
        english: &["Moisturizing Cream", "Soothing Face Cream"],
        category: "skincare",
        price: (12_000, 89_000),
        options: &[("용량", &[("50ml", 0), ("100ml", 15_000)])],
    },
    Kind {
        key: "shampoo",
        korean: &["샴푸", "탈모 샴푸"],
        english: &["Shampoo", "Scalp Care Shampoo"],
        category: "hair",
        price: (7_000, 39_000),
        options: &[],
    },
    Kind {
        key: "dog-food",
        korean: &["강아지 사료", "소형견 사료"],
        english: &["Dog Food", "Small Breed Dog Food"],
        category: "pets",
        price: (15_000, 99_000),
        options: &[("중량", &[("2kg", 0), ("6kg", 25_000), ("12kg", 45_000)])],
    },
];

/// The category tree: id, name, parent.
pub const CATEGORIES: &[(&str, &str, Option<&str>)] = &[
    ("electronics", "전자기기 Electronics", None),
    ("audio", "음향기기 Audio", Some("electronics")),
    ("computers", "컴퓨터 Computers", Some("electronics")),
    (
        "computer-accessories",
        "컴퓨터 주변기기 Computer accessories",
        Some("computers"),
    ),
    (
        "mobile-accessories",
        "모바일 액세서리 Mobile accessories",
        Some("electronics"),
    ),
    ("fashion", "패션 Fashion", None),
    ("tops", "상의 Tops", Some("fashion")),
    ("shoes", "신발 Shoes", Some("fashion")),
    ("bags", "가방 Bags", Some("fashion")),
    ("jewellery", "주얼리 Jewellery", Some("fashion")),
    ("living", "생활 Living", None),
    ("kitchen", "주방 Kitchen", Some("living")),
    ("coffee", "커피 Coffee", Some("living")),
    ("pets", "반려동물 Pets", Some("living")),
    ("beauty", "뷰티 Beauty", None),
    ("skincare", "스킨케어 Skincare", Some("beauty")),
    ("hair", "헤어 Hair", Some("beauty")),
];

/// Brands: id, Korean name, English name.
pub const BRANDS: &[(&str, &str, &str)] = &[
    ("sorilab", "소리랩", "Sorilab"),
    ("hanbit", "한빛", "Hanbit"),
    ("northwind", "노스윈드", "Northwind"),
    ("acme", "애크미", "Acme"),
    ("bluepeak", "블루피크", "Bluepeak"),
    ("dalbit", "달빛", "Dalbit"),
    ("greenleaf", "그린리프", "Greenleaf"),
    ("hanul", "하늘", "Hanul"),
    ("ironwood", "아이언우드", "Ironwood"),
    ("jeju-lab", "제주랩", "Jeju Lab"),
    ("kumo", "쿠모", "Kumo"),
    ("lumen", "루멘", "Lumen"),
    ("maru", "마루", "Maru"),
    ("nabi", "나비", "Nabi"),
    ("orbit", "오르빗", "Orbit"),
    ("pado", "파도", "Pado"),
    ("quill", "퀼", "Quill"),
    ("rivero", "리베로", "Rivero"),
    ("saebom", "새봄", "Saebom"),
    ("tera", "테라", "Tera"),
    ("urban-fox", "어반폭스", "Urban Fox"),
    ("vela", "벨라", "Vela"),
    ("woori-craft", "우리공방", "Woori Craft"),
    ("xenon", "제논", "Xenon"),
    ("yeoreum", "여름", "Yeoreum"),
    ("zenith", "제니스", "Zenith"),
    ("arum", "아름", "Arum"),
    ("bada", "바다", "Bada"),
    ("cheongun", "청운", "Cheongun"),
    ("dream-works", "드림웍스", "Dream Works"),
];

const KOREAN_WORDS: &[&str] = &[
    "프리미엄",
    "초경량",
    "베이직",
    "데일리",
    "스탠다드",
    "시그니처",
    "에센셜",
];
const ENGLISH_WORDS: &[&str] = &[
    "Premium",
    "Ultralight",
    "Basic",
    "Daily",
    "Standard",
    "Signature",
    "Essential",
];

/// A generated product and the kind it is (the right answer for search measurements).
#[derive(Debug, Clone)]
pub struct SeedProduct {
    pub kind: &'static str,
    pub product: NewProduct,
}

/// splitmix64: small, fast and the same everywhere, which is all a seed needs.
#[derive(Debug, Clone)]
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut mixed = self.0;
        mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        mixed ^ (mixed >> 31)
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// The products of a catalog of `count` products made from `seed`. Product ids are
/// `p<number>`, so two seeds of the same size are different catalogs under the same ids.
pub fn generate(seed: u64, count: usize) -> Vec<SeedProduct> {
    let mut random = Random(seed);
    (0..count)
        .map(|number| {
            let kind = &KINDS[number % KINDS.len()];
            let (brand_id, brand_korean, brand_english) = *random.pick(BRANDS);
            let model = format!(
                "{}{}",
                (b'A' + random.below(26) as u8) as char,
                10 + random.below(90)
            );
            let language = random.below(10);
            let name = match language {
                0..=3 => format!(
                    "{brand_korean} {} {}",
                    random.pick(KOREAN_WORDS),
                    random.pick(kind.korean)
                ),
                4..=7 => format!(
                    "{brand_english} {} {}",
                    random.pick(ENGLISH_WORDS),
                    random.pick(kind.english)
                ),
                _ => format!("{brand_korean} {} {model}", random.pick(kind.korean)),
            };
            let description = if language <= 3 || language >= 8 {
                format!(
                    "{brand_korean}의 {}. 매일 쓰기 좋은 {} 제품입니다.",
                    random.pick(kind.korean),
                    random.pick(KOREAN_WORDS)
                )
            } else {
                format!(
                    "{} by {brand_english}. A {} choice for every day.",
                    random.pick(kind.english),
                    random.pick(ENGLISH_WORDS).to_lowercase()
                )
            };
            let (low, high) = kind.price;
            let base = (low + (random.next() % (high - low) as u64) as i64) / 100 * 100;
            let option_groups = kind
                .options
                .iter()
                .map(|(group, options)| OptionGroupSpec {
                    name: Text::parse(group, 1, 60).expect("seed option group names are valid"),
                    options: options
                        .iter()
                        .map(|(name, surcharge)| {
                            OptionSpec::new(name, *surcharge).expect("seed options are valid")
                        })
                        .collect(),
                })
                .collect();
            SeedProduct {
                kind: kind.key,
                product: NewProduct {
                    product_id: product_id(&format!("p{number:06}")).expect("seed ids are valid"),
                    name: Text::parse(&name, 1, 200).expect("seed names are valid"),
                    description: Text::parse(&description, 0, 4000).expect("seed descriptions are valid"),
                    category_id: Some(CategoryId::parse(kind.category).expect("seed categories are valid")),
                    brand_id: Some(BrandId::parse(brand_id).expect("seed brands are valid")),
                    price: Price::new(base.max(100), "KRW").expect("seed prices are valid"),
                    option_groups,
                    draft: false,
                },
            }
        })
        .collect()
}

/// What [`write`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Written {
    pub products: usize,
    /// Products that existed already (a second run of the same seed adds nothing).
    pub skipped: usize,
}

/// Stores the categories, brands and products (with `concurrency` transactions at a time),
/// skipping what exists. Calls `progress` with the number of products done now and then.
pub async fn write(
    pool: &MySqlPool,
    products: Vec<SeedProduct>,
    concurrency: usize,
    progress: impl Fn(usize) + Send + Sync + 'static,
) -> anyhow::Result<Written> {
    for (id, name, parent) in CATEGORIES {
        let id = CategoryId::parse(id)?;
        let parent = parent.map(CategoryId::parse).transpose()?;
        let name = Text::parse(name, 1, 120)?;
        match products::create_category(pool, &id, &name, parent.as_ref()).await {
            Ok(_) | Err(products::CreateCategoryError::AlreadyExists) => {}
            Err(error) => return Err(anyhow::anyhow!("category {}: {error}", id.as_str())),
        }
    }
    for (id, korean, english) in BRANDS {
        let name = Text::parse(&format!("{korean} {english}"), 1, 120)?;
        match brands::create_brand(pool, &BrandId::parse(id)?, &name).await {
            Ok(_) | Err(brands::BrandError::AlreadyExists) => {}
            Err(error) => return Err(anyhow::anyhow!("brand {id}: {error}")),
        }
    }
    let queue = Arc::new(std::sync::Mutex::new(products.into_iter()));
    let done = Arc::new(AtomicUsize::new(0));
    let skipped = Arc::new(AtomicUsize::new(0));
    let progress = Arc::new(progress);
    let context = EventContext::default();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency.max(1) {
        let (queue, done, skipped, progress, pool, context) = (
            queue.clone(),
            done.clone(),
            skipped.clone(),
            progress.clone(),
            pool.clone(),
            context.clone(),
        );
        workers.spawn(async move {
            loop {
                let next = queue
                    .lock()
                    .map_err(|_| anyhow::anyhow!("a seed worker panicked"))?
                    .next();
                let Some(seed) = next else {
                    return Ok::<(), anyhow::Error>(());
                };
                let mut attempt = 0;
                loop {
                    attempt += 1;
                    match products::create_product(&pool, &seed.product, &context).await {
                        Ok(_) => break,
                        Err(CreateProductError::AlreadyExists) => {
                            skipped.fetch_add(1, Ordering::Relaxed);
                            break;
                        }
                        // Concurrent inserts under the same brands and categories can deadlock;
                        // MariaDB rolled the transaction back, so it is simply run again.
                        Err(CreateProductError::Unexpected(cause)) if attempt < 5 && lost_a_race(&cause) => {}
                        Err(error) => {
                            return Err(anyhow::anyhow!(
                                "product {}: {error}",
                                seed.product.product_id.as_str()
                            ));
                        }
                    }
                }
                let count = done.fetch_add(1, Ordering::Relaxed) + 1;
                if count % 1000 == 0 {
                    progress(count);
                }
            }
        });
    }
    while let Some(finished) = workers.join_next().await {
        finished??;
    }
    let skipped = skipped.load(Ordering::Relaxed);
    Ok(Written {
        products: done.load(Ordering::Relaxed) - skipped,
        skipped,
    })
}

/// Whether a failure was a deadlock or a lock wait timeout: another transaction won a race.
fn lost_a_race(cause: &anyhow::Error) -> bool {
    cause
        .chain()
        .filter_map(|error| error.downcast_ref::<sqlx::Error>())
        .any(|error| matches!(store::mariadb::error_number(error), Some(1205 | 1213)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_thousand_products_make_at_least_forty_thousand_skus_in_every_language() {
        let products = generate(7, 10_000);
        let skus: usize = products
            .iter()
            .map(|seed| {
                seed.product
                    .option_groups
                    .iter()
                    .map(|group| group.options.len())
                    .product::<usize>()
            })
            .sum();
        assert!(skus >= 40_000, "{skus} SKUs");
        let korean = products
            .iter()
            .filter(|seed| {
                seed.product
                    .name
                    .as_str()
                    .chars()
                    .any(|c| ('가'..='힣').contains(&c))
            })
            .count();
        assert!((5_000..7_000).contains(&korean), "{korean} names with Hangul");
        assert!(crate::domain::check_option_groups(&products[7].product.option_groups).is_ok());
    }

    #[test]
    fn the_same_seed_gives_the_same_catalog_and_another_seed_another() {
        let names = |seed| {
            generate(seed, 50)
                .into_iter()
                .map(|p| p.product.name.as_str().to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(1), names(1));
        assert_ne!(names(1), names(2));
    }
}

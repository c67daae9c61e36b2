//! `template.yaml` → `template::Registry`, fed any text.
//!
//! What must hold: parsing answers (a `TemplateError` for anything it cannot use), never
//! panics or hangs, and gives the same registry every time; the registry it gives is what the
//! local stack relies on: functions sorted by name with no name twice, each found by
//! `Registry::function`, routes sorted with upper-case methods, and a port of its own for each
//! function from the default base port.

use std::collections::BTreeSet;

use template::Registry;

/// The stack's default `FUNCTION_BASE_PORT`.
const DEFAULT_BASE_PORT: u16 = 8100;

pub fn template_yaml(input: &[u8]) {
    // The loader reads the file as UTF-8 and refuses anything else before YAML sees it.
    let Ok(text) = std::str::from_utf8(input) else {
        return;
    };
    let Ok(registry) = Registry::parse(text) else {
        return;
    };

    let again = Registry::parse(text).expect("the same text parsed a second time");
    assert_eq!(
        again, registry,
        "parsing the same text twice gave different registries"
    );

    for pair in registry.functions.windows(2) {
        assert!(
            pair[0].name < pair[1].name,
            "functions are not sorted by name, or a name is there twice: {:?} then {:?}",
            pair[0].name,
            pair[1].name
        );
    }
    for function in &registry.functions {
        assert_eq!(
            registry.function(&function.name).map(|found| &found.logical_id),
            Some(&function.logical_id)
        );
        assert!(function.routes.is_sorted(), "{:?}", function.routes);
        for route in &function.routes {
            assert!(
                !route.method.chars().any(|c| c.is_ascii_lowercase()),
                "{:?}",
                route.method
            );
        }
    }

    let fits = usize::from(u16::MAX - DEFAULT_BASE_PORT) + 1;
    if registry.functions.len() <= fits {
        let ports: BTreeSet<u16> = registry
            .local_ports(DEFAULT_BASE_PORT)
            .into_iter()
            .map(|(_, port)| port)
            .collect();
        assert_eq!(
            ports.len(),
            registry.functions.len(),
            "two functions share a port"
        );
    }
}

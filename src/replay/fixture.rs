//! The fixture and world files (format: `docs/fixtures.md`), found on disk and parsed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

pub use keyroute_sandbox::world::{World, WorldShop, WorldShopper, WorldSubscription};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixture {
    #[serde(default)]
    pub description: Option<String>,
    #[serde(rename = "message")]
    pub messages: Vec<Message>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Message {
    #[serde(default)]
    pub from: Option<String>,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub id: Option<String>,
    /// 1-based index of an earlier message whose id this one reuses (a redelivery).
    #[serde(default)]
    pub same_id_as: Option<usize>,
    #[serde(default)]
    pub opt_out: bool,
    #[serde(default)]
    pub shopify_customer_id: Option<i64>,
    /// A whole body, sent as-is (a real payload, or a malformed one).
    #[serde(default)]
    pub payload: Option<String>,
    #[serde(default)]
    pub signature: Option<String>,
    #[serde(default)]
    pub expect: Expect,
}

#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<ExpectedEvent>>,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedEvent {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub properties: BTreeMap<String, Value>,
}

/// One fixture file as found: its path (as given, for reports) and what it held.
pub struct Found {
    pub path: PathBuf,
    pub fixture: Result<Fixture, String>,
    pub world: Result<(PathBuf, World), String>,
}

impl Found {
    /// A fixture and its world given as text (the demo's fixtures are compiled in).
    pub fn from_texts(path: &str, fixture: &str, world: &str) -> Found {
        Found {
            path: PathBuf::from(path),
            fixture: toml::from_str(fixture).map_err(|e| format!("{path}: {e}")),
            world: toml::from_str(world)
                .map(|w| (PathBuf::from("world.toml"), w))
                .map_err(|e| format!("world.toml: {e}")),
        }
    }
}

/// Every fixture under `paths` (files, or folders searched recursively), in a stable order:
/// sorted by path. `world.toml` files are worlds, not fixtures.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<Found>, String> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, &mut files).map_err(|e| format!("{}: {e}", p.display()))?;
        } else if p.is_file() {
            files.push(p.clone());
        } else {
            return Err(format!("{}: no such file or folder", p.display()));
        }
    }
    files.sort();
    files.dedup();
    Ok(files
        .into_iter()
        .map(|path| {
            let fixture = std::fs::read_to_string(&path)
                .map_err(|e| e.to_string())
                .and_then(|text| toml::from_str::<Fixture>(&text).map_err(|e| e.to_string()))
                .and_then(|f| {
                    if f.messages.is_empty() {
                        Err("a fixture needs at least one [[message]]".to_owned())
                    } else {
                        Ok(f)
                    }
                });
            let world = find_world(&path).and_then(|w| load_world(&w).map(|world| (w, world)));
            Found {
                path,
                fixture,
                world,
            }
        })
        .collect())
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "toml")
            && path.file_name().is_some_and(|n| n != "world.toml")
        {
            out.push(path);
        }
    }
    Ok(())
}

/// The `world.toml` beside the fixture or in the nearest parent folder.
fn find_world(fixture: &Path) -> Result<PathBuf, String> {
    let mut dir = fixture.parent();
    while let Some(d) = dir {
        let candidate = d.join("world.toml");
        if candidate.is_file() {
            return Ok(candidate);
        }
        dir = d.parent();
    }
    Err(format!(
        "no world.toml beside {} or above it",
        fixture.display()
    ))
}

pub fn load_world(path: &Path) -> Result<World, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

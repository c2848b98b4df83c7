//! Reads content files (embedded or from a folder), parses them into `raw` structs and checks
//! them into a `Content`. Every problem is collected as a `Diagnostic`; a `Content` exists only
//! when there were none. No network, no clock; the only I/O is reading the folder in `load_dir`.

use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};
use std::ops::Range;
use std::path::Path;

use include_dir::{Dir, include_dir};
use serde::de::DeserializeOwned;
use toml::Spanned;

use super::answers::{AnswerPhrases, LabelKind, Meaning, PhraseWord, Place};
use super::diagnostics::{Diagnostic, Diagnostics, did_you_mean, line_col};
use super::raw::*;
use super::*;
use crate::ids::{MAX_ID_LEN, is_valid_id};

static EMBEDDED_DIALOGUES: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/dialogues");
static EMBEDDED_LOCALES: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/locales");

/// The locale every interface key must exist in, and the fallback for all others.
pub const DEFAULT_LOCALE: &str = "en";
/// The checker refuses a topic with fewer triggers: fewer cannot teach the matcher a topic.
pub const MIN_TRIGGERS: usize = 15;
pub const MAX_SHORT_WORDS: usize = 90;
pub const MAX_MORE_WORDS: usize = 250;
/// The hardest a text a young person reads may be, as a Flesch-Kincaid grade rounded to one
/// place (`readability`; grade 6 suits most 11-12-year-olds): short answers and flow steps,
/// "tell me more", and the crisis reply and check question, which someone reads in distress.
pub const MAX_GRADE_SHORT: f64 = 6.0;
pub const MAX_GRADE_MORE: f64 = 7.0;
pub const MAX_GRADE_STEP: f64 = 6.0;
pub const MAX_GRADE_CRISIS: f64 = 5.0;
pub const MAX_TITLE_CHARS: usize = 40;
/// Telegram refuses longer messages.
pub const MAX_MESSAGE_CHARS: usize = 4096;
/// Any topic must be this many taps or fewer from the start menu, for every audience.
pub const MAX_TAPS: usize = 3;

/// Content files by path relative to the content root (`dialogues/...`, `locales/...`).
#[derive(Clone, Debug, Default)]
pub struct ContentFiles {
    pub files: BTreeMap<String, String>,
    /// Binary files (the model's weights, precomputed vectors), by the same kind of path.
    pub blobs: BTreeMap<String, Blob>,
}

/// Files read as bytes rather than text.
fn is_binary(path: &str) -> bool {
    path.ends_with(".safetensors") || path.ends_with(".bin")
}

/// The content built into the binary.
pub fn load_embedded() -> Result<Content, Vec<Diagnostic>> {
    load(&embedded_files())
}

/// The built-in content's files, unchecked.
pub fn embedded_files() -> ContentFiles {
    let mut files = ContentFiles::default();
    for (prefix, dir) in [
        ("dialogues", &EMBEDDED_DIALOGUES),
        ("locales", &EMBEDDED_LOCALES),
    ] {
        collect_embedded(prefix, dir, &mut files);
    }
    files
}

fn collect_embedded(prefix: &str, dir: &'static Dir<'static>, out: &mut ContentFiles) {
    for file in dir.files() {
        let path = format!("{prefix}/{}", file.path().display());
        if is_binary(&path) {
            out.blobs.insert(path, Blob::Static(file.contents()));
            continue;
        }
        match file.contents_utf8() {
            Some(text) => out.files.insert(path, text.to_owned()),
            None => out
                .files
                .insert(path, String::from_utf8_lossy(file.contents()).into()),
        };
    }
    for sub in dir.dirs() {
        collect_embedded(prefix, sub, out);
    }
}

/// Content from a folder holding `dialogues/` and `locales/`, for authors.
pub fn load_dir(root: &Path) -> Result<Content, Vec<Diagnostic>> {
    load(&read_dir_files(root)?)
}

/// A content folder's files, unchecked.
pub fn read_dir_files(root: &Path) -> Result<ContentFiles, Vec<Diagnostic>> {
    let mut files = ContentFiles::default();
    let mut problems = Diagnostics::default();
    for top in ["dialogues", "locales"] {
        let dir = root.join(top);
        if !dir.is_dir() {
            problems.file(&dir.display().to_string(), "folder not found");
            continue;
        }
        read_tree(root, &dir, &mut files, &mut problems);
    }
    if !problems.is_empty() {
        return Err(problems.into_vec());
    }
    Ok(files)
}

fn read_tree(root: &Path, dir: &Path, out: &mut ContentFiles, problems: &mut Diagnostics) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => return problems.file(&dir.display().to_string(), format!("cannot read: {e}")),
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            read_tree(root, &path, out, problems);
            continue;
        }
        let rel = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .to_string_lossy()
            .replace('\\', "/");
        if is_binary(&rel) {
            match std::fs::read(&path) {
                Ok(bytes) => {
                    out.blobs.insert(rel, Blob::Owned(bytes.into()));
                }
                Err(e) => problems.file(&rel, format!("cannot read: {e}")),
            }
            continue;
        }
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                out.files.insert(rel, text);
            }
            Err(e) => problems.file(&rel, format!("cannot read as UTF-8 text: {e}")),
        }
    }
}

/// Parses and checks `files`.
pub fn load(files: &ContentFiles) -> Result<Content, Vec<Diagnostic>> {
    load_checked(files, true)
}

/// Parses and checks `files`; with `fresh_vectors` false, precomputed vectors that do not
/// match today's texts are left out instead of refused (for `rightsbot embed`, which
/// rebuilds them).
pub fn load_checked(files: &ContentFiles, fresh_vectors: bool) -> Result<Content, Vec<Diagnostic>> {
    let mut checker = Checker {
        files,
        problems: Diagnostics::default(),
        fresh_vectors,
        grades: Vec::new(),
    };
    let content = checker.build();
    match content {
        Some(content) if checker.problems.is_empty() => Ok(content),
        _ => Err(checker.problems.into_vec()),
    }
}

struct Checker<'a> {
    files: &'a ContentFiles,
    problems: Diagnostics,
    fresh_vectors: bool,
    /// The reading grade of every text a young person sees, as it is checked.
    grades: Vec<GradedText>,
}

/// A parsed file with where it came from, so later checks can point into it.
struct Parsed<'a, T> {
    path: &'a str,
    text: &'a str,
    value: T,
}

impl<'a> Checker<'a> {
    fn err(&mut self, path: &str, text: &str, span: Range<usize>, message: impl Into<String>) {
        self.problems.at(path, text, span, message);
    }

    fn parse<T: DeserializeOwned>(&mut self, path: &'a str) -> Option<Parsed<'a, T>> {
        let text = self.files.files.get(path)?.as_str();
        match toml::from_str::<T>(text) {
            Ok(value) => Some(Parsed { path, text, value }),
            Err(e) => {
                let span = e.span().unwrap_or(0..0);
                let mut message = e.message().trim().to_owned();
                if message.contains("untagged enum RawText") {
                    message = "expected text: a string, or a table with any of default, \
                               young_person, parent, advocate"
                        .into();
                } else if message.contains("untagged enum RawList") {
                    message = "expected a list of strings, or a table of lists with any of \
                               default, young_person, parent, advocate"
                        .into();
                }
                self.err(path, text, span, message);
                None
            }
        }
    }

    fn build(&mut self) -> Option<Content> {
        let files = self.files;
        let mut topic_files = Vec::new();
        let mut flow_files = Vec::new();
        let mut locale_dirs: BTreeSet<&str> = BTreeSet::new();
        for path in files.files.keys() {
            let path = path.as_str();
            if !path.ends_with(".toml") {
                continue;
            }
            let parts: Vec<&str> = path.split('/').collect();
            match parts.as_slice() {
                ["dialogues", "topics", _] => topic_files.push(path),
                ["dialogues", "flows", _] => flow_files.push(path),
                [
                    "dialogues",
                    "menus.toml" | "helplines.toml" | "crisis.toml" | "pages.toml" | "matcher.toml"
                    | "catalogue.toml",
                ] => {}
                ["locales", lang, _] => {
                    locale_dirs.insert(lang);
                }
                _ => self.problems.file(
                    path,
                    "this file is not a known kind of content (topics go in dialogues/topics/, \
                     flows in dialogues/flows/, interface strings in locales/<lang>/)",
                ),
            }
        }

        // Names come from the files, parsed or not, so one broken file does not make every
        // reference to it an error too.
        let topic_ids: BTreeSet<String> = topic_files.iter().map(|p| stem(p)).collect();
        let flow_ids: BTreeSet<String> = flow_files.iter().map(|p| stem(p)).collect();
        let topics: Vec<_> = topic_files
            .into_iter()
            .filter_map(|p| self.parse::<RawTopic>(p))
            .collect();
        let flows: Vec<_> = flow_files
            .into_iter()
            .filter_map(|p| self.parse::<RawFlow>(p))
            .collect();
        let menus = self.required::<RawMenus>("dialogues/menus.toml");
        let helplines = self.required::<RawHelplines>("dialogues/helplines.toml");
        let crisis = self.required::<RawCrisis>("dialogues/crisis.toml");
        let pages = self.required::<BTreeMap<Spanned<String>, RawPage>>("dialogues/pages.toml");
        let catalogue = self.parse::<RawCatalogue>("dialogues/catalogue.toml");
        let matcher = match files.files.contains_key("dialogues/matcher.toml") {
            true => self.parse::<crate::matcher::Config>("dialogues/matcher.toml"),
            false => None,
        };

        // Names first, so every reference below can be resolved and near misses suggested.
        let page_ids: BTreeSet<String> = pages
            .iter()
            .flat_map(|p| p.value.keys().map(|k| k.get_ref().clone()))
            .collect();
        let names = Names {
            topics: &topic_ids,
            flows: &flow_ids,
            pages: &page_ids,
        };
        for (id, kind) in topic_ids
            .iter()
            .map(|id| (id, "topics"))
            .chain(flow_ids.iter().map(|id| (id, "flows")))
        {
            let path = format!("dialogues/{kind}/{id}.toml");
            let path = path.as_str();
            if !is_valid_id(id) {
                self.problems.file(
                    path,
                    format!(
                        "file name \"{id}\" is not a valid id: use a-z, 0-9 and _, \
                         at most {MAX_ID_LEN}"
                    ),
                );
            }
        }
        for id in flow_ids.iter().filter(|id| topic_ids.contains(*id)) {
            self.problems.file(
                &format!("dialogues/flows/{id}.toml"),
                format!(
                    "\"{id}\" is also a topic id; topics, flows and pages share one set of ids"
                ),
            );
        }

        let helpline_ids: BTreeSet<String> = helplines
            .iter()
            .flat_map(|h| {
                h.value
                    .helplines
                    .iter()
                    .map(|l| l.get_ref().id.get_ref().clone())
            })
            .collect();

        let topics: BTreeMap<TopicId, Topic> = topics
            .iter()
            .filter_map(|t| self.check_topic(t, &names))
            .map(|t| (t.id.clone(), t))
            .collect();
        let flows: BTreeMap<FlowId, Flow> = flows
            .iter()
            .filter_map(|f| self.check_flow(f, &names))
            .map(|f| (f.id.clone(), f))
            .collect();
        let pages = pages.map(|p| self.check_pages(&p)).unwrap_or_default();
        let helplines = helplines.map(|h| self.check_helplines(&h));
        let crisis = crisis.and_then(|c| self.check_crisis(&c, &helpline_ids));
        let menus = menus.map(|m| self.check_menus(&m, &names));
        if let Some(catalogue) = &catalogue {
            self.check_catalogue(catalogue, &topic_ids);
        }
        for required in ["about", "privacy"] {
            if !page_ids.contains(required) {
                self.problems.file(
                    "dialogues/pages.toml",
                    format!("missing page [{required}]: every channel links to it"),
                );
            }
        }

        let locales = self.check_locales(&locale_dirs);
        let matcher = matcher.map(|m| m.value).unwrap_or_default();

        let (helplines, crisis, menus) = (helplines?, crisis?, menus?);
        if !self.problems.is_empty() {
            return None;
        }
        let content = Content {
            topics,
            flows,
            pages,
            menus,
            helplines,
            crisis,
            default_locale: LocaleId::parse(DEFAULT_LOCALE)
                .expect("the default locale id is valid"),
            locales,
            matcher,
            readability: readability_report(std::mem::take(&mut self.grades)),
        };
        if !self.problems.is_empty() {
            return None;
        }
        self.check_reachability(&content);
        self.check_rendered(&content);
        let mut content = content;
        self.check_semantic(&mut content);
        Some(content)
    }

    fn required<T: DeserializeOwned>(&mut self, path: &'a str) -> Option<Parsed<'a, T>> {
        if !self.files.files.contains_key(path) {
            self.problems.file(path, "required file is missing");
            return None;
        }
        self.parse(path)
    }

    fn check_topic(&mut self, raw: &Parsed<'_, RawTopic>, names: &Names<'_>) -> Option<Topic> {
        let (path, text, t) = (raw.path, raw.text, &raw.value);
        let id = TopicId::parse(&stem(path))?;
        self.check_title(path, text, &t.title);
        let reviewed = self.check_date(path, text, t.reviewed.as_ref(), "reviewed");
        let audiences = self.check_audiences(path, text, &t.audiences);
        if t.sources.is_empty() {
            self.problems.file(
                path,
                "no [[sources]]: every fact must trace to a source (title and where)",
            );
        }
        let triggers = t
            .triggers
            .as_ref()
            .map_or(&[][..], |t| t.get_ref().as_slice());
        if triggers.len() < MIN_TRIGGERS {
            let message = format!(
                "{} triggers; a topic needs at least {MIN_TRIGGERS}, written the way people \
                 really type",
                triggers.len()
            );
            match &t.triggers {
                Some(list) => self.err(path, text, list.span(), message),
                None => self.problems.file(path, message),
            }
        }
        if !(2..=4).contains(&t.related.len()) {
            self.problems.file(
                path,
                format!("{} related topics; give 2 to 4", t.related.len()),
            );
        }
        let mut related = Vec::new();
        for r in &t.related {
            if r.get_ref() == id.as_str() {
                self.err(path, text, r.span(), "a topic cannot be related to itself");
            } else if let Some(rid) = self.resolve_topic(path, text, r, names, "related") {
                related.push(rid);
            }
        }
        let short = self.check_text(path, text, &t.short, "short");
        let more = self.check_text(path, text, &t.more, "more");
        if let Some(short) = &short {
            self.check_words(
                path,
                text,
                t.short.span(),
                short,
                MAX_SHORT_WORDS,
                "short answer",
            );
        }
        if let Some(more) = &more {
            self.check_words(
                path,
                text,
                t.more.span(),
                more,
                MAX_MORE_WORDS,
                "\"tell me more\"",
            );
        }
        if let Some(short) = &short {
            self.check_grade(path, text, &t.short, short, Reading::Short);
        }
        if let Some(more) = &more {
            self.check_grade(path, text, &t.more, more, Reading::More);
        }
        let ask = self.check_list(path, text, &t.ask);
        if let Some(ask) = &ask
            && ask.all().any(|a| !(2..=4).contains(&a.len()))
        {
            self.err(
                path,
                text,
                t.ask.span(),
                "give 2 to 4 \"you could ask\" questions",
            );
        }
        let nations = t
            .nations
            .as_ref()
            .map_or_else(NationNotes::default, |n| NationNotes {
                wales: n.wales.clone(),
                scotland: n.scotland.clone(),
                northern_ireland: n.northern_ireland.clone(),
            });
        Some(Topic {
            id,
            title: t.title.get_ref().trim().to_owned(),
            reviewed: reviewed?,
            audiences,
            rights: t.rights.clone(),
            related,
            triggers: triggers.to_vec(),
            crisis_signpost: t.crisis_signpost,
            short: short?,
            more: more?,
            ask: ask?,
            nations,
            sources: sources(&t.sources),
        })
    }

    fn check_flow(&mut self, raw: &Parsed<'_, RawFlow>, names: &Names<'_>) -> Option<Flow> {
        let (path, text, f) = (raw.path, raw.text, &raw.value);
        let id = FlowId::parse(&stem(path))?;
        self.check_title(path, text, &f.title);
        let reviewed = self.check_date(path, text, f.reviewed.as_ref(), "reviewed");
        let audiences = self.check_audiences(path, text, &f.audiences);
        let step_names: Vec<&str> = f.steps.keys().map(|k| k.get_ref().as_str()).collect();
        let mut steps = BTreeMap::new();
        let mut edges: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (step_id, step) in &f.steps {
            let Some(sid) = self.check_id::<StepId>(path, text, step_id, "step") else {
                continue;
            };
            let encoded = crate::engine::Action::FlowStep(id.clone(), sid.clone()).encode();
            if encoded.len() > crate::engine::MAX_ACTION_BYTES {
                self.err(
                    path,
                    text,
                    step_id.span(),
                    format!(
                        "button data \"{encoded}\" is {} bytes; Telegram allows {}: shorten the \
                         flow or step id",
                        encoded.len(),
                        crate::engine::MAX_ACTION_BYTES
                    ),
                );
            }
            let step_text = self.check_text(path, text, &step.text, "text");
            if let Some(step_text) = &step_text {
                self.check_grade(path, text, &step.text, step_text, Reading::Step);
            }
            let mut options = Vec::new();
            for option in &step.options {
                let o = option.get_ref();
                self.check_title(path, text, &o.label);
                let targets = [&o.next, &o.topic, &o.flow]
                    .iter()
                    .filter(|t| t.is_some())
                    .count();
                if targets != 1 {
                    self.err(
                        path,
                        text,
                        option.span(),
                        "an option needs exactly one of next, topic or flow",
                    );
                    continue;
                }
                let target = if let Some(next) = &o.next {
                    if f.steps.keys().any(|k| k.get_ref() == next.get_ref()) {
                        edges
                            .entry(step_id.get_ref())
                            .or_default()
                            .push(next.get_ref());
                        StepId::parse(next.get_ref()).map(OptionTarget::Step)
                    } else {
                        let hint = did_you_mean(next.get_ref(), step_names.iter().copied());
                        self.err(
                            path,
                            text,
                            next.span(),
                            format!("unknown step \"{}\" in next{hint}", next.get_ref()),
                        );
                        None
                    }
                } else if let Some(topic) = &o.topic {
                    self.resolve_topic(path, text, topic, names, "topic")
                        .map(OptionTarget::Topic)
                } else if let Some(flow) = &o.flow {
                    if names.flows.contains(flow.get_ref()) {
                        FlowId::parse(flow.get_ref()).map(OptionTarget::Flow)
                    } else {
                        let hint =
                            did_you_mean(flow.get_ref(), names.flows.iter().map(String::as_str));
                        self.err(
                            path,
                            text,
                            flow.span(),
                            format!("unknown flow \"{}\" in flow{hint}", flow.get_ref()),
                        );
                        None
                    }
                } else {
                    None
                };
                if let Some(target) = target {
                    options.push(StepOption {
                        label: o.label.get_ref().trim().to_owned(),
                        target,
                    });
                }
            }
            if let Some(step_text) = step_text {
                steps.insert(
                    sid,
                    Step {
                        text: step_text,
                        options,
                    },
                );
            }
        }
        let start = f.start.get_ref().as_str();
        if !f.steps.keys().any(|k| k.get_ref() == start) {
            let hint = did_you_mean(start, step_names.iter().copied());
            self.err(
                path,
                text,
                f.start.span(),
                format!("unknown start step \"{start}\"{hint}"),
            );
            return None;
        }
        let mut seen: HashSet<&str> = HashSet::from([start]);
        let mut queue = VecDeque::from([start]);
        while let Some(s) = queue.pop_front() {
            for next in edges.get(s).into_iter().flatten() {
                if seen.insert(next) {
                    queue.push_back(next);
                }
            }
        }
        for step_id in f.steps.keys() {
            if !seen.contains(step_id.get_ref().as_str()) {
                self.err(
                    path,
                    text,
                    step_id.span(),
                    format!(
                        "step \"{}\" cannot be reached from start",
                        step_id.get_ref()
                    ),
                );
            }
        }
        Some(Flow {
            id,
            title: f.title.get_ref().trim().to_owned(),
            reviewed,
            audiences,
            start: StepId::parse(start)?,
            triggers: f.triggers.clone(),
            sources: sources(&f.sources),
            steps,
        })
    }

    fn check_pages(
        &mut self,
        raw: &Parsed<'_, BTreeMap<Spanned<String>, RawPage>>,
    ) -> BTreeMap<PageId, Page> {
        let (path, text) = (raw.path, raw.text);
        let mut pages = BTreeMap::new();
        for (key, page) in &raw.value {
            let Some(id) = self.check_id::<PageId>(path, text, key, "page") else {
                continue;
            };
            self.check_title(path, text, &page.title);
            let audiences = page
                .audiences
                .iter()
                .filter_map(|a| self.check_audience(path, text, a))
                .collect();
            if let Some(page_text) = self.check_text(path, text, &page.text, "text") {
                pages.insert(
                    id.clone(),
                    Page {
                        id,
                        title: page.title.get_ref().trim().to_owned(),
                        audiences,
                        text: page_text,
                    },
                );
            }
        }
        pages
    }

    fn check_helplines(&mut self, raw: &Parsed<'_, RawHelplines>) -> Vec<Helpline> {
        let (path, text) = (raw.path, raw.text);
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for line in &raw.value.helplines {
            let h = line.get_ref();
            let Some(id) = self.check_id::<HelplineId>(path, text, &h.id, "helpline") else {
                continue;
            };
            if !seen.insert(id.clone()) {
                self.err(
                    path,
                    text,
                    h.id.span(),
                    format!("helpline \"{id}\" is listed twice"),
                );
            }
            let checked = self.check_date(path, text, Some(&h.checked), "checked");
            for nation in &h.nations {
                if !NATIONS.contains(&nation.get_ref().as_str()) {
                    let hint = did_you_mean(nation.get_ref(), NATIONS);
                    self.err(
                        path,
                        text,
                        nation.span(),
                        format!("unknown nation \"{}\"{hint}", nation.get_ref()),
                    );
                }
            }
            out.push(Helpline {
                id,
                name: h.name.trim().to_owned(),
                contact: h.contact.trim().to_owned(),
                for_whom: h.for_whom.trim().to_owned(),
                nations: h.nations.iter().map(|n| n.get_ref().clone()).collect(),
                source: h.source.trim().to_owned(),
                checked: checked.unwrap_or_default(),
            });
        }
        out
    }

    fn check_crisis(
        &mut self,
        raw: &Parsed<'_, RawCrisis>,
        helplines: &BTreeSet<String>,
    ) -> Option<Crisis> {
        let (path, text, c) = (raw.path, raw.text, &raw.value);
        let resolve = |this: &mut Self, list: &[Spanned<String>]| -> Vec<HelplineId> {
            list.iter()
                .filter_map(|h| {
                    if helplines.contains(h.get_ref()) {
                        HelplineId::parse(h.get_ref())
                    } else {
                        let hint = did_you_mean(h.get_ref(), helplines.iter().map(String::as_str));
                        this.err(
                            path,
                            text,
                            h.span(),
                            format!("unknown helpline \"{}\"{hint}", h.get_ref()),
                        );
                        None
                    }
                })
                .collect()
        };
        let lines = resolve(self, &c.helplines);
        let abuse = resolve(self, &c.abuse_helplines);
        let nations = resolve(self, &c.nation_helplines);
        if lines.is_empty() {
            self.problems
                .file(path, "the crisis reply must list at least one helpline");
        }
        let reviewed = self.check_date(path, text, c.reviewed.as_ref(), "reviewed");
        let reply = self.check_text(path, text, &c.reply, "reply");
        let check = self.check_text(path, text, &c.check.text, "check text");
        if let Some(reply) = &reply {
            self.check_grade(path, text, &c.reply, reply, Reading::CrisisReply);
        }
        if let Some(check) = &check {
            self.check_grade(path, text, &c.check.text, check, Reading::CrisisCheck);
        }
        Some(Crisis {
            reviewed,
            helplines: lines,
            abuse_helplines: abuse,
            nation_helplines: nations,
            reply: reply?,
            check: check?,
        })
    }

    fn check_menus(
        &mut self,
        raw: &Parsed<'_, RawMenus>,
        names: &Names<'_>,
    ) -> BTreeMap<Audience, Vec<MenuGroup>> {
        let (path, text, m) = (raw.path, raw.text, &raw.value);
        let mut menus = BTreeMap::new();
        for (audience, groups) in [
            (Audience::YoungPerson, &m.young_person),
            (Audience::Parent, &m.parent),
            (Audience::Advocate, &m.advocate),
        ] {
            if groups.is_empty() {
                self.problems.file(
                    path,
                    format!("no menu for {audience}: add [[{audience}]] groups"),
                );
            }
            let mut seen = HashSet::new();
            let mut out = Vec::new();
            for g in groups {
                let Some(id) = self.check_id::<GroupId>(path, text, &g.id, "group") else {
                    continue;
                };
                if !seen.insert(id.clone()) {
                    self.err(
                        path,
                        text,
                        g.id.span(),
                        format!("group \"{id}\" appears twice"),
                    );
                }
                self.check_title(path, text, &g.label);
                let items = g
                    .items
                    .iter()
                    .filter_map(|i| self.resolve_item(path, text, i, names))
                    .collect();
                out.push(MenuGroup {
                    id,
                    label: g.label.get_ref().trim().to_owned(),
                    items,
                });
            }
            menus.insert(audience, out);
        }
        menus
    }

    fn check_catalogue(&mut self, raw: &Parsed<'_, RawCatalogue>, topics: &BTreeSet<String>) {
        for id in &raw.value.topics {
            if !topics.contains(id.get_ref()) {
                self.err(
                    raw.path,
                    raw.text,
                    id.span(),
                    format!(
                        "catalogue topic \"{}\" has no file: add dialogues/topics/{}.toml",
                        id.get_ref(),
                        id.get_ref()
                    ),
                );
            }
        }
    }

    fn check_locales(&mut self, dirs: &BTreeSet<&str>) -> BTreeMap<LocaleId, Locale> {
        let mut locales = BTreeMap::new();
        if !dirs.contains(DEFAULT_LOCALE) {
            self.problems.file(
                &format!("locales/{DEFAULT_LOCALE}/interface.toml"),
                "the default locale is missing",
            );
        }
        for lang in dirs {
            let Some(id) = LocaleId::parse(lang) else {
                self.problems.file(
                    &format!("locales/{lang}"),
                    "a locale folder is named like en, cy or pt-br",
                );
                continue;
            };
            let mut locale = Locale {
                id: Some(id.clone()),
                ..Locale::default()
            };
            let base = format!("locales/{lang}/");
            let files = self.files;
            let mut paths: Vec<&str> = files
                .files
                .range(base.clone()..)
                .map(|(p, _)| p.as_str())
                .take_while(|p| p.starts_with(&base))
                .collect();
            // Interface strings first: the other files refer to them.
            paths.sort_by_key(|p| !p.ends_with("/interface.toml"));
            for path in paths {
                match &path[base.len()..] {
                    "interface.toml" => {
                        if let Some(p) = self.parse::<toml::Table>(path) {
                            flatten(&p.value, "", &mut locale.strings);
                        }
                    }
                    "lexicon.toml" => {
                        if let Some(p) = self.parse::<RawLexicon>(path) {
                            locale.stopwords = p.value.stopwords;
                            locale.replacements = p.value.replace;
                            locale.suffixes = p.value.suffixes;
                        }
                    }
                    "crisis.toml" => {
                        if let Some(p) = self.parse::<RawCrisisPhrases>(path) {
                            locale.crisis_phrases = p.value.phrases;
                            locale.ambiguous_phrases = p.value.ambiguous;
                            locale.figures_of_speech = p.value.figures_of_speech;
                            locale.mention_phrases = p.value.mentions;
                            locale.double_meanings = p.value.double_meanings;
                            locale.ordinary_objects = p.value.ordinary_objects;
                            locale.sayings = p.value.sayings;
                            locale.last_straws = p.value.last_straws;
                            locale.last_straw_openers = p.value.last_straw_openers;
                            locale.meant_markers = p.value.meant_markers;
                            locale.distress_emoji = p.value.distress_emoji;
                            locale.everyday_words = p.value.everyday_words;
                            locale.past_markers = p.value.past_markers;
                            locale.recovery_markers = p.value.recovery_markers;
                            locale.safe_now_markers = p.value.safe_now_markers;
                            locale.reported_markers = p.value.reported_markers;
                            locale.doubt_markers = p.value.doubt_markers;
                            locale.present_markers = p.value.present_markers;
                            locale.recent_markers = p.value.recent_markers;
                            locale.asked_markers = p.value.asked_markers;
                            locale.general_markers = p.value.general_markers;
                            locale.told_markers = p.value.told_markers;
                            locale.dose_questions = p.value.dose_questions;
                            locale.dose_dangers = p.value.dose_dangers;
                            locale.general_askers = p.value.general_askers;
                            locale.general_tellings = p.value.general_tellings;
                            locale.short_pleas = p.value.short_pleas;
                            locale.bare_pleas = p.value.bare_pleas;
                            locale.means_emoji = p.value.means_emoji;
                            locale.denials = p.value.denials;
                            locale.denial_bridge = p.value.denial_bridge;
                            locale.denial_doubts = p.value.denial_doubts;
                        }
                    }
                    "intents.toml" => {
                        if let Some(p) = self.parse::<RawIntents>(path) {
                            locale.intents = self.check_intents(&p, &locale.strings);
                        }
                    }
                    "answers.toml" => {
                        if let Some(p) = self.parse::<RawAnswers>(path) {
                            locale.answers = Some(self.check_answers(&p));
                        }
                    }
                    "scope.toml" => {
                        if let Some(p) = self.parse::<RawScope>(path) {
                            locale.elsewhere = p.value.elsewhere;
                            locale.on_a_ward = p.value.on_a_ward;
                        }
                    }
                    other if other.ends_with(".toml") => self.problems.file(
                        path,
                        "unknown locale file: expected interface.toml, lexicon.toml, crisis.toml, \
                         intents.toml, answers.toml or scope.toml",
                    ),
                    _ => {}
                }
            }
            locales.insert(id, locale);
        }
        let Some(default) = locales.get(&LocaleId::parse(DEFAULT_LOCALE).expect("valid")) else {
            return locales;
        };
        let default_path = format!("locales/{DEFAULT_LOCALE}/interface.toml");
        for key in crate::engine::UI_KEYS {
            if !default.strings.contains_key(*key) {
                self.problems.file(
                    &default_path,
                    format!("interface key \"{key}\" is missing; the bot uses it"),
                );
            }
        }
        for (id, locale) in &locales {
            for key in locale.strings.keys() {
                if !default.strings.contains_key(key) {
                    let hint = did_you_mean(key, default.strings.keys().map(String::as_str));
                    let path = format!("locales/{id}/interface.toml");
                    let text = self.files.files.get(&path).map_or("", String::as_str);
                    let offset = text
                        .find(key.rsplit('.').next().unwrap_or(key))
                        .unwrap_or(0);
                    self.problems.at(
                        &path,
                        text,
                        offset..offset,
                        format!("interface key \"{key}\" is not in the default locale{hint}"),
                    );
                }
            }
        }
        locales
    }

    fn check_intents(
        &mut self,
        raw: &Parsed<'_, RawIntents>,
        strings: &BTreeMap<String, String>,
    ) -> Vec<Intent> {
        let (path, text) = (raw.path, raw.text);
        let mut out = Vec::new();
        for intent in &raw.value.intents {
            let i = intent.get_ref();
            let Some(id) = self.check_id::<IntentId>(path, text, &i.id, "intent") else {
                continue;
            };
            let kind = match i.kind.get_ref().as_str() {
                "smalltalk" => IntentKind::Smalltalk,
                "help" => IntentKind::Help,
                other => {
                    self.err(
                        path,
                        text,
                        i.kind.span(),
                        format!("unknown intent kind \"{other}\": use smalltalk or help"),
                    );
                    continue;
                }
            };
            if kind == IntentKind::Smalltalk && i.reply.is_none() {
                self.err(
                    path,
                    text,
                    intent.span(),
                    "a smalltalk intent needs a reply key",
                );
            }
            if let Some(reply) = &i.reply
                && !strings.contains_key(reply.get_ref())
                && path.starts_with(&format!("locales/{DEFAULT_LOCALE}/"))
            {
                self.err(
                    path,
                    text,
                    reply.span(),
                    format!("reply key \"{}\" is not in interface.toml", reply.get_ref()),
                );
            }
            out.push(Intent {
                id,
                kind,
                reply: i.reply.as_ref().map(|r| r.get_ref().clone()),
                triggers: i.triggers.clone(),
            });
        }
        out
    }

    /// `answers.toml`: every phrase must read as words, and mean one thing only wherever it
    /// is read ("nah" cannot be both yes and no; "fine" cannot be filler and "safe").
    fn check_answers(&mut self, raw: &Parsed<'_, RawAnswers>) -> Answers {
        let (path, text, a) = (raw.path, raw.text, &raw.value);
        let mut general = Vec::new();
        for (list, meaning) in [
            (&a.yes, Meaning::Yes),
            (&a.no, Meaning::No),
            (&a.leaning_yes, Meaning::LeaningYes),
            (&a.leaning_no, Meaning::LeaningNo),
            (&a.unsure, Meaning::Unsure),
            (&a.hedge, Meaning::Hedge),
            (&a.filler, Meaning::Filler),
        ] {
            general.extend(list.iter().map(|p| (p, meaning)));
        }
        let mut safety = Vec::new();
        if let Some(safe) = &a.safe {
            safety.extend(safe.yes.iter().map(|p| (p, Meaning::Safe)));
            safety.extend(safe.no.iter().map(|p| (p, Meaning::Unsafe)));
        }
        let mut choice = Vec::new();
        if let Some(c) = &a.choices {
            choice.extend(c.none.iter().map(|p| (p, Meaning::NoneOfThese)));
            choice.extend(c.filler.iter().map(|p| (p, Meaning::Filler)));
            for (key, list) in &c.place {
                let place = match key.get_ref().as_str() {
                    "last" => Some(Place::Last),
                    n => n
                        .parse::<usize>()
                        .ok()
                        .filter(|n| (1..=9).contains(n))
                        .map(Place::Nth),
                };
                match place {
                    Some(place) => choice.extend(list.iter().map(|p| (p, Meaning::Place(place)))),
                    None => self.err(
                        path,
                        text,
                        key.span(),
                        format!(
                            "unknown place \"{}\": write \"1\" to \"9\", or last",
                            key.get_ref()
                        ),
                    ),
                }
            }
        }
        let mut labels = Vec::new();
        if let Some(l) = &a.labels {
            labels.extend(l.yes.iter().map(|p| (p, LabelKind::Yes)));
            labels.extend(l.no.iter().map(|p| (p, LabelKind::No)));
            labels.extend(l.unsure.iter().map(|p| (p, LabelKind::Unsure)));
        }

        let general = self.answer_words(path, text, &general);
        let safety = self.answer_words(path, text, &safety);
        let choice = self.answer_words(path, text, &choice);
        let labels = self.answer_words(path, text, &labels);
        // Phrases read together must not disagree.
        for extra in [&safety, &choice] {
            let together: Vec<_> = general.iter().chain(extra.iter()).cloned().collect();
            self.one_meaning_each(path, text, &together, |m| m.list_name());
        }
        let label_name = |k: LabelKind| match k {
            LabelKind::Yes => "labels.yes",
            LabelKind::No => "labels.no",
            LabelKind::Unsure => "labels.unsure",
        };
        self.one_meaning_each(path, text, &labels, label_name);

        let mut audience = Vec::new();
        if let Some(words) = &a.audience {
            for (list, who) in [
                (&words.parent, Audience::Parent),
                (&words.advocate, Audience::Advocate),
            ] {
                for phrase in list {
                    if let Some(words) = self.audience_words(path, text, phrase) {
                        audience.push((words, who));
                    }
                }
            }
        }
        let mut who = Vec::new();
        if let Some(w) = &a.who {
            for (list, audience) in [
                (&w.young_person, Audience::YoungPerson),
                (&w.parent, Audience::Parent),
                (&w.advocate, Audience::Advocate),
            ] {
                who.extend(list.iter().map(|p| (p, audience)));
            }
        }
        let who = self.answer_words(path, text, &who);
        self.one_meaning_each(path, text, &who, |a| match a {
            Audience::YoungPerson => "who.young_person",
            Audience::Parent => "who.parent",
            Audience::Advocate => "who.advocate",
        });
        Answers::new(AnswerPhrases {
            who: without_spans(who),
            general: without_spans(general),
            safety: without_spans(safety),
            choice: without_spans(choice),
            labels: without_spans(labels),
            audience,
        })
    }

    /// Each phrase as the words an answer is read in, or a problem at the phrase.
    fn answer_words<M: Copy>(
        &mut self,
        path: &str,
        text: &str,
        phrases: &[(&Spanned<String>, M)],
    ) -> Vec<(Range<usize>, Vec<String>, M)> {
        let mut out = Vec::new();
        for (phrase, meaning) in phrases {
            if phrase.get_ref().contains(['{', '}']) {
                self.err(
                    path,
                    text,
                    phrase.span(),
                    "{n} (any number) may only stand in an [audience] phrase",
                );
                continue;
            }
            let words = answers::words(phrase.get_ref());
            if words.is_empty() {
                self.err(
                    path,
                    text,
                    phrase.span(),
                    format!("\"{}\" has no words in it", phrase.get_ref()),
                );
                continue;
            }
            out.push((phrase.span(), words, *meaning));
        }
        out
    }

    fn one_meaning_each<M: Copy + PartialEq>(
        &mut self,
        path: &str,
        text: &str,
        phrases: &[(Range<usize>, Vec<String>, M)],
        name: impl Fn(M) -> &'static str,
    ) {
        let mut seen: BTreeMap<&[String], (M, Range<usize>)> = BTreeMap::new();
        let mut sorted: Vec<_> = phrases.iter().collect();
        sorted.sort_by_key(|(span, _, _)| span.start);
        for (span, words, meaning) in sorted {
            match seen.get(words.as_slice()) {
                Some((first, at)) if first != meaning => {
                    let (line, _) = super::diagnostics::line_col(text, at.start);
                    self.err(
                        path,
                        text,
                        span.clone(),
                        format!(
                            "\"{}\" is in {} and in {} (line {line}): a phrase can mean one \
                             thing only",
                            words.join(" "),
                            name(*meaning),
                            name(*first),
                        ),
                    );
                }
                Some(_) => {}
                None => {
                    seen.insert(words, (*meaning, span.clone()));
                }
            }
        }
    }

    /// An `[audience]` phrase as words, `{n}` standing for any number.
    fn audience_words(
        &mut self,
        path: &str,
        text: &str,
        phrase: &Spanned<String>,
    ) -> Option<Vec<PhraseWord>> {
        let mut words = Vec::new();
        for (i, part) in phrase.get_ref().split("{n}").enumerate() {
            if part.contains(['{', '}']) {
                self.err(
                    path,
                    text,
                    phrase.span(),
                    "only {n} (any number) may stand in a phrase",
                );
                return None;
            }
            if i > 0 {
                words.push(PhraseWord::Number);
            }
            words.extend(answers::words(part).into_iter().map(PhraseWord::Word));
        }
        if !words.iter().any(|w| matches!(w, PhraseWord::Word(_))) {
            self.err(
                path,
                text,
                phrase.span(),
                format!("\"{}\" has no words in it", phrase.get_ref()),
            );
            return None;
        }
        Some(words)
    }

    /// Every topic in the catalogue must be at most `MAX_TAPS` taps from the start menu, for
    /// every audience it is written for: start -> group -> item is two taps; a related topic or
    /// flow option, three. (A topic for advocates only, such as the workshop kit, need not be
    /// in a young person's menu.)
    fn check_reachability(&mut self, content: &Content) {
        for (audience, groups) in &content.menus {
            let mut depth: BTreeMap<String, usize> = BTreeMap::new();
            let mut queue = VecDeque::new();
            for group in groups {
                for item in &group.items {
                    queue.push_back((item.clone(), 2));
                }
            }
            while let Some((item, taps)) = queue.pop_front() {
                let key = match &item {
                    Item::Topic(id) => id.to_string(),
                    Item::Flow(id) => id.to_string(),
                    Item::Page(id) => id.to_string(),
                };
                if depth.get(&key).is_some_and(|d| *d <= taps) {
                    continue;
                }
                depth.insert(key, taps);
                if taps >= MAX_TAPS {
                    continue;
                }
                match &item {
                    Item::Topic(id) => {
                        for r in &content.topics[id].related {
                            queue.push_back((Item::Topic(r.clone()), taps + 1));
                        }
                    }
                    Item::Flow(id) => {
                        let flow = &content.flows[id];
                        for option in &flow.steps[&flow.start].options {
                            match &option.target {
                                OptionTarget::Topic(t) => {
                                    queue.push_back((Item::Topic(t.clone()), taps + 1))
                                }
                                OptionTarget::Flow(f) => {
                                    queue.push_back((Item::Flow(f.clone()), taps + 1))
                                }
                                OptionTarget::Step(_) => {}
                            }
                        }
                    }
                    Item::Page(_) => {}
                }
            }
            for (id, topic) in &content.topics {
                let written_for = topic.audiences.is_empty() || topic.audiences.contains(audience);
                if written_for && !depth.contains_key(id.as_str()) {
                    self.problems.file(
                        "dialogues/menus.toml",
                        format!(
                            "topic \"{id}\" is more than {MAX_TAPS} taps from the {audience} menu: \
                             list it in a group"
                        ),
                    );
                }
            }
        }
    }

    /// Renders every topic for every audience and checks each message fits Telegram's limit.
    fn check_rendered(&mut self, content: &Content) {
        for problem in crate::engine::oversized_replies(content, MAX_MESSAGE_CHARS) {
            self.problems.file(&problem.0, problem.1);
        }
    }

    fn resolve_topic(
        &mut self,
        path: &str,
        text: &str,
        id: &Spanned<String>,
        names: &Names<'_>,
        field: &str,
    ) -> Option<TopicId> {
        if names.topics.contains(id.get_ref()) {
            return TopicId::parse(id.get_ref());
        }
        let hint = did_you_mean(id.get_ref(), names.topics.iter().map(String::as_str));
        self.err(
            path,
            text,
            id.span(),
            format!("unknown topic \"{}\" in {field}{hint}", id.get_ref()),
        );
        None
    }

    fn resolve_item(
        &mut self,
        path: &str,
        text: &str,
        id: &Spanned<String>,
        names: &Names<'_>,
    ) -> Option<Item> {
        let name = id.get_ref();
        if names.topics.contains(name) {
            return TopicId::parse(name).map(Item::Topic);
        }
        if names.flows.contains(name) {
            return FlowId::parse(name).map(Item::Flow);
        }
        if names.pages.contains(name) {
            return PageId::parse(name).map(Item::Page);
        }
        let all = names
            .topics
            .iter()
            .chain(names.flows)
            .chain(names.pages)
            .map(String::as_str);
        let hint = did_you_mean(name, all);
        self.err(
            path,
            text,
            id.span(),
            format!("unknown topic, flow or page \"{name}\" in items{hint}"),
        );
        None
    }

    fn check_id<T: IdType>(
        &mut self,
        path: &str,
        text: &str,
        id: &Spanned<String>,
        what: &str,
    ) -> Option<T> {
        let parsed = T::parse_id(id.get_ref());
        if parsed.is_none() {
            self.err(
                path,
                text,
                id.span(),
                format!(
                    "{what} id \"{}\" is not valid: use a-z, 0-9 and _, at most {MAX_ID_LEN} \
                     characters",
                    id.get_ref()
                ),
            );
        }
        parsed
    }

    fn check_title(&mut self, path: &str, text: &str, title: &Spanned<String>) {
        let chars = title.get_ref().trim().chars().count();
        if chars == 0 || chars > MAX_TITLE_CHARS {
            self.err(
                path,
                text,
                title.span(),
                format!("{chars} characters; a title or label needs 1 to {MAX_TITLE_CHARS}"),
            );
        }
    }

    fn check_date(
        &mut self,
        path: &str,
        text: &str,
        date: Option<&Spanned<String>>,
        field: &str,
    ) -> Option<String> {
        let Some(date) = date else {
            self.problems.file(
                path,
                format!("missing {field} = \"YYYY-MM-DD\": when the facts were last checked"),
            );
            return None;
        };
        if !is_date(date.get_ref()) {
            self.err(
                path,
                text,
                date.span(),
                format!("{field} must be a date written YYYY-MM-DD"),
            );
            return None;
        }
        Some(date.get_ref().clone())
    }

    fn check_audience(&mut self, path: &str, text: &str, a: &Spanned<String>) -> Option<Audience> {
        let parsed = Audience::parse(a.get_ref());
        if parsed.is_none() {
            let hint = did_you_mean(a.get_ref(), Audience::ALL.map(Audience::as_str));
            self.err(
                path,
                text,
                a.span(),
                format!("unknown audience \"{}\"{hint}", a.get_ref()),
            );
        }
        parsed
    }

    fn check_audiences(
        &mut self,
        path: &str,
        text: &str,
        list: &Spanned<Vec<Spanned<String>>>,
    ) -> Vec<Audience> {
        if list.get_ref().is_empty() {
            self.err(
                path,
                text,
                list.span(),
                "audiences must name at least one audience",
            );
        }
        list.get_ref()
            .iter()
            .filter_map(|a| self.check_audience(path, text, a))
            .collect()
    }

    fn check_text(
        &mut self,
        path: &str,
        text: &str,
        raw: &Spanned<RawText>,
        field: &str,
    ) -> Option<Text<String>> {
        let value = match raw.get_ref() {
            RawText::Plain(s) => Text::new(Some(tidy(s)), [None, None, None]),
            RawText::ByAudience(b) => Text::new(
                b.default.as_deref().map(tidy),
                [
                    b.young_person.as_deref().map(tidy),
                    b.parent.as_deref().map(tidy),
                    b.advocate.as_deref().map(tidy),
                ],
            ),
        };
        match value {
            Some(v) if v.all().all(|s| !s.is_empty()) => Some(v),
            _ => {
                self.err(path, text, raw.span(), format!("{field} is empty"));
                None
            }
        }
    }

    fn check_list(
        &mut self,
        path: &str,
        text: &str,
        raw: &Spanned<RawList>,
    ) -> Option<Text<Vec<String>>> {
        let clean = |v: &Vec<String>| v.iter().map(|s| tidy(s)).collect::<Vec<_>>();
        let value = match raw.get_ref() {
            RawList::Plain(v) => Text::new(Some(clean(v)), [None, None, None]),
            RawList::ByAudience(b) => Text::new(
                b.default.as_ref().map(clean),
                [
                    b.young_person.as_ref().map(clean),
                    b.parent.as_ref().map(clean),
                    b.advocate.as_ref().map(clean),
                ],
            ),
        };
        if value.is_none() {
            self.err(path, text, raw.span(), "the list is empty");
        }
        value
    }

    /// Measures the wording a young person sees and refuses it if it reads above its limit.
    fn check_grade(
        &mut self,
        path: &str,
        text: &str,
        raw: &Spanned<RawText>,
        value: &Text<String>,
        reading: Reading,
    ) {
        let grade = readability::rounded(readability::grade(
            value.for_audience(Audience::YoungPerson),
        ));
        let offset = young_person_offset(text, raw);
        let (limit, what) = (reading.limit(), reading.what());
        if grade > limit {
            self.err(
                path,
                text,
                offset..offset,
                format!(
                    "grade {grade:.1} is above {limit} for a young person's {what}: use shorter \
                     sentences and everyday words"
                ),
            );
        }
        let (line, col) = line_col(text, offset);
        self.grades.push(GradedText {
            place: format!("{path}:{line}:{col}"),
            what,
            grade,
            limit,
        });
    }

    fn check_words(
        &mut self,
        path: &str,
        text: &str,
        span: Range<usize>,
        value: &Text<String>,
        max: usize,
        what: &str,
    ) {
        for wording in value.all() {
            let words = wording.split_whitespace().count();
            if words > max {
                self.err(
                    path,
                    text,
                    span.clone(),
                    format!("{what} has {words} words; keep it to {max} or fewer"),
                );
            }
        }
    }
}

/// The kinds of text a young person reads, each with its reading-grade limit.
#[derive(Clone, Copy)]
enum Reading {
    Short,
    More,
    Step,
    CrisisReply,
    CrisisCheck,
}

impl Reading {
    fn limit(self) -> f64 {
        match self {
            Reading::Short => MAX_GRADE_SHORT,
            Reading::More => MAX_GRADE_MORE,
            Reading::Step => MAX_GRADE_STEP,
            Reading::CrisisReply | Reading::CrisisCheck => MAX_GRADE_CRISIS,
        }
    }

    fn what(self) -> &'static str {
        match self {
            Reading::Short => "short answer",
            Reading::More => "\"tell me more\"",
            Reading::Step => "flow step",
            Reading::CrisisReply => "crisis reply",
            Reading::CrisisCheck => "crisis check question",
        }
    }
}

/// The hardest texts first; equal grades in file order.
fn readability_report(mut grades: Vec<GradedText>) -> Vec<GradedText> {
    grades.sort_by(|a, b| b.grade.total_cmp(&a.grade));
    grades
}

/// Where the wording a young person sees starts in the file: the text itself, or in a table by
/// audience the key `Text::for_audience` picks for them (their own, else `default`, else the
/// first there is), found after the table's start; the table's start if it cannot be found.
fn young_person_offset(text: &str, raw: &Spanned<RawText>) -> usize {
    let start = raw.span().start;
    let RawText::ByAudience(b) = raw.get_ref() else {
        return start;
    };
    let key = [
        (b.young_person.is_some(), "young_person"),
        (b.default.is_some(), "default"),
        (b.parent.is_some(), "parent"),
        (b.advocate.is_some(), "advocate"),
    ]
    .into_iter()
    .find_map(|(present, key)| present.then_some(key));
    let Some(key) = key else {
        return start;
    };
    let rest = text.get(start..).unwrap_or_default();
    rest.match_indices(key)
        .find(|(i, _)| {
            let before = rest[..*i].chars().next_back();
            let after = rest[i + key.len()..].trim_start_matches([' ', '\t']);
            matches!(before, None | Some('\n' | ' ' | '\t' | '{' | ',')) && after.starts_with('=')
        })
        .map_or(start, |(i, _)| start + i)
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCatalogue {
    topics: Vec<Spanned<String>>,
}

struct Names<'a> {
    topics: &'a BTreeSet<String>,
    flows: &'a BTreeSet<String>,
    pages: &'a BTreeSet<String>,
}

const NATIONS: [&str; 4] = ["england", "wales", "scotland", "northern_ireland"];

trait IdType: Sized {
    fn parse_id(s: &str) -> Option<Self>;
}

macro_rules! impl_id_type {
    ($($t:ty),*) => {$(
        impl IdType for $t {
            fn parse_id(s: &str) -> Option<Self> {
                <$t>::parse(s)
            }
        }
    )*};
}
impl_id_type!(StepId, PageId, GroupId, HelplineId, IntentId);

fn without_spans<M>(phrases: Vec<(Range<usize>, Vec<String>, M)>) -> Vec<(Vec<String>, M)> {
    phrases.into_iter().map(|(_, w, m)| (w, m)).collect()
}

fn stem(path: &str) -> String {
    Path::new(path)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn sources(raw: &[RawSource]) -> Vec<Source> {
    raw.iter()
        .map(|s| Source {
            title: s.title.trim().to_owned(),
            location: s.location.trim().to_owned(),
        })
        .collect()
}

/// Trims each paragraph and joins lines within a paragraph, so authors can wrap text freely.
/// Trims each line and paragraph, keeps the author's line breaks (lists are written one item a
/// line) and turns a leading "- " into a bullet, so texts read the same in every channel.
fn tidy(s: &str) -> String {
    s.split("\n\n")
        .map(|paragraph| {
            paragraph
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(|l| match l.strip_prefix("- ") {
                    Some(item) => format!("\u{2022} {}", item.trim()),
                    None => l.split_whitespace().collect::<Vec<_>>().join(" "),
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("\n\n")
}

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
        && (1..=12).contains(&s[5..7].parse::<u8>().unwrap_or(0))
        && (1..=31).contains(&s[8..10].parse::<u8>().unwrap_or(0))
}

fn flatten(table: &toml::Table, prefix: &str, out: &mut BTreeMap<String, String>) {
    for (key, value) in table {
        let full = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            toml::Value::String(s) => {
                out.insert(full, tidy(s));
            }
            toml::Value::Table(t) => flatten(t, &full, out),
            _ => {}
        }
    }
}

impl Checker<'_> {
    /// Phrasings, crisis examples, the model and its precomputed vectors, per locale. A locale
    /// without a `model/` folder is matched by words alone.
    fn check_semantic(&mut self, content: &mut Content) {
        let files = self.files;
        let known: BTreeSet<String> = content
            .topics
            .keys()
            .map(|t| t.as_str().to_owned())
            .chain(content.flows.keys().map(|f| f.as_str().to_owned()))
            .collect();
        let flow_names: BTreeSet<String> = content
            .flows
            .keys()
            .map(|f| f.as_str().to_owned())
            .collect();
        let topic_triggers: Vec<String> = content
            .topics
            .values()
            .flat_map(|t| t.triggers.iter().cloned())
            .chain(
                content
                    .flows
                    .values()
                    .flat_map(|f| f.triggers.iter().cloned()),
            )
            .collect();
        for (id, locale) in content.locales.iter_mut() {
            let base = format!("locales/{id}/");
            let intents: BTreeMap<String, IntentKind> = locale
                .intents
                .iter()
                .map(|i| (i.id.as_str().to_owned(), i.kind))
                .collect();
            let mut phrasings = Vec::new();
            let mut risk = Vec::new();
            for (path, text) in files.files.range(base.clone()..) {
                let Some(rel) = path.strip_prefix(&base) else {
                    break;
                };
                let parts: Vec<&str> = rel.split('/').collect();
                match parts.as_slice() {
                    // Messages people wrote, learnt after an evaluation set's first score, are
                    // in the phrasings' format in learnt/: they teach topics, not the risk
                    // reading.
                    [folder @ ("phrasings" | "learnt"), name] if name.ends_with(".txt") => {
                        let stem = stem(path);
                        let from = phrasings.len();
                        self.read_phrasings(
                            path,
                            text,
                            &stem,
                            &known,
                            &flow_names,
                            &intents,
                            &mut phrasings,
                        );
                        if *folder == "learnt" {
                            for p in &mut phrasings[from..] {
                                p.learnt = true;
                                p.id = format!("learnt/{}", p.id);
                            }
                        }
                    }
                    ["risk", label @ ("danger" | "safe"), name] if name.ends_with(".txt") => {
                        let kind = stem(path);
                        for (line, t) in semantic::text_lines(text) {
                            risk.push(RiskExample {
                                id: format!("{label}/{kind}:{line}"),
                                danger: *label == "danger",
                                kind: kind.clone(),
                                text: t.to_owned(),
                            });
                        }
                    }
                    ["phrasings" | "risk" | "learnt", ..] => self.problems.file(
                        path,
                        "unknown file: phrasings are phrasings/<topic, flow or _out_of_scope, \
                         _help, _smalltalk>.txt, learnt messages learnt/<the same>.txt; crisis \
                         examples are risk/danger/<kind>.txt and risk/safe/<kind>.txt",
                    ),
                    _ => {}
                }
            }
            if !phrasings.is_empty() {
                let counts = semantic::counts(&phrasings);
                for target in &known {
                    let n = counts.get(target).copied().unwrap_or(0);
                    if n < semantic::MIN_PHRASINGS {
                        self.problems.file(
                            &format!("{base}phrasings/{target}.txt"),
                            format!(
                                "{n} phrasings; a topic or flow needs at least {} written as \
                                 different people would ask",
                                semantic::MIN_PHRASINGS
                            ),
                        );
                    }
                }
            }
            let model = self.read_model(&base);
            let intent_triggers = locale.intents.iter().flat_map(|i| i.triggers.iter());
            let texts = semantic::texts_to_embed(
                topic_triggers
                    .iter()
                    .chain(intent_triggers)
                    .map(String::as_str),
                &phrasings,
                &risk,
            );
            let lessons = semantic::lessons(&phrasings, &risk);
            locale.vectors = model
                .as_ref()
                .and_then(|m| self.read_vectors(&base, m, &texts, &lessons));
            locale.model = model;
            locale.phrasings = phrasings;
            locale.risk_examples = risk;
        }
    }

    // One call site, and each argument is a different view of the same locale: a struct would
    // only rename them.
    #[allow(clippy::too_many_arguments)]
    fn read_phrasings(
        &mut self,
        path: &str,
        text: &str,
        stem: &str,
        known: &BTreeSet<String>,
        flows: &BTreeSet<String>,
        intents: &BTreeMap<String, IntentKind>,
        out: &mut Vec<Phrasing>,
    ) {
        let topic_or_flow = |s: &str| -> Option<PhrasingTarget> {
            if !known.contains(s) {
                return None;
            }
            match flows.contains(s) {
                true => FlowId::parse(s).map(PhrasingTarget::Flow),
                false => TopicId::parse(s).map(PhrasingTarget::Topic),
            }
        };
        let target = match stem {
            semantic::OUT_OF_SCOPE_FILE => Some(PhrasingTarget::OutOfScope),
            semantic::HELP_FILE => match intents.iter().find(|(_, k)| **k == IntentKind::Help) {
                Some((id, _)) => IntentId::parse(id).map(PhrasingTarget::Intent),
                None => {
                    self.problems.file(
                        path,
                        "help phrasings, but no intent of kind help in intents.toml",
                    );
                    return;
                }
            },
            semantic::SMALLTALK_FILE => None,
            other => match topic_or_flow(other) {
                Some(t) => Some(t),
                None => {
                    self.problems.file(
                        path,
                        format!(
                            "no topic or flow \"{other}\"{}",
                            did_you_mean(other, known.iter().map(String::as_str))
                        ),
                    );
                    return;
                }
            },
        };
        for (line, t) in semantic::text_lines(text) {
            let (target, t) = match &target {
                Some(target) => (target.clone(), t),
                None => match semantic::split_intent(t) {
                    Some((intent, t)) if intents.contains_key(intent) => {
                        let id = IntentId::parse(intent).expect("a loaded intent's id");
                        (PhrasingTarget::Intent(id), t)
                    }
                    _ => {
                        let offset = text.lines().take(line - 1).map(|l| l.len() + 1).sum();
                        self.problems.at(
                            path,
                            text,
                            offset..offset + 1,
                            format!(
                                "a smalltalk line starts with an intent and a tab: one of {}",
                                intents.keys().cloned().collect::<Vec<_>>().join(", ")
                            ),
                        );
                        continue;
                    }
                },
            };
            out.push(Phrasing {
                id: format!("{stem}:{line}"),
                target,
                text: t.to_owned(),
                learnt: false,
            });
        }
    }

    fn read_model(&mut self, base: &str) -> Option<ModelFiles> {
        let files = self.files;
        let weights = files.blobs.get(&format!("{base}model/model.safetensors"));
        let tokenizer = files.files.get(&format!("{base}model/tokenizer.json"));
        let config = files.files.get(&format!("{base}model/config.json"));
        match (weights, tokenizer, config) {
            (None, None, None) => None,
            (Some(w), Some(t), Some(c)) => Some(ModelFiles {
                weights: w.clone(),
                tokenizer: t.clone(),
                config: c.clone(),
            }),
            _ => {
                self.problems.file(
                    &format!("{base}model"),
                    "a model needs model.safetensors, tokenizer.json and config.json together",
                );
                None
            }
        }
    }

    fn read_vectors(
        &mut self,
        base: &str,
        model: &ModelFiles,
        texts: &BTreeSet<String>,
        lessons: &BTreeSet<String>,
    ) -> Option<semantic::Vectors> {
        let path = format!("{base}{}", semantic::VECTORS_PATH);
        let rebuild = "rebuild them with `cargo run --release -- embed` (see README: \
                       how free text is understood)";
        let Some(blob) = self.files.blobs.get(&path) else {
            if self.fresh_vectors {
                self.problems.file(
                    &path,
                    format!("missing: the model's precomputed vectors; {rebuild}"),
                );
            }
            return None;
        };
        let (stored, vectors) = match semantic::read_vectors(blob.bytes()) {
            Ok(v) => v,
            Err(e) => {
                if self.fresh_vectors {
                    self.problems.file(&path, format!("{e}; {rebuild}"));
                }
                return None;
            }
        };
        if stored != semantic::fingerprint(model.weights.bytes(), texts, lessons) {
            if self.fresh_vectors {
                let (missing, extra) = semantic::staleness(&vectors, texts);
                self.problems.file(
                    &path,
                    format!(
                        "stale: built for other texts, texts labelled otherwise or another model \
                         ({missing} texts have no vector, {extra} vectors are for texts no longer \
                         here); {rebuild}"
                    ),
                );
            }
            return None;
        }
        Some(vectors)
    }
}

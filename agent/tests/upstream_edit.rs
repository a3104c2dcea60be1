//! Upstream's edit-files matcher tables as data: every case of
//! `TestFuzzyReplace_EndingAndWhitespace`, `_EndingNormalization`,
//! `_FuzzyCollapse_PreservesNextLine`, `_Rejects`,
//! `_Expansion_PreservesFileIndent`, `TestEditFiles_WhitespaceAndLineEndings`,
//! `_ReplaceAll_FuzzyIndentGap` and `_FuzzyIndent_InsertionLevelAware`,
//! through the router against a real directory. The general
//! `TestEditFiles` table and the duplicate-path cases are in
//! `files_edit.rs`.

// Test helpers outside #[test] fns may unwrap too (clippy.toml covers only the fns).
#![allow(clippy::unwrap_used)]

mod files_support;

use agent::files::wire::{EditFilesRequest, FileEdit, FileEdits};
use files_support::{Fixture, post_json};
use http::StatusCode;

/// One case: a file's content, the edits applied to it, and the file
/// afterwards or a text the 400 answer contains (the file then unchanged).
struct Case {
    name: &'static str,
    content: &'static str,
    edits: &'static [(&'static str, &'static str, bool)],
    want: Result<&'static str, &'static str>,
}

const fn ok(
    name: &'static str,
    content: &'static str,
    edits: &'static [(&'static str, &'static str, bool)],
    after: &'static str,
) -> Case {
    Case {
        name,
        content,
        edits,
        want: Ok(after),
    }
}

const fn fails(
    name: &'static str,
    content: &'static str,
    edits: &'static [(&'static str, &'static str, bool)],
    error: &'static str,
) -> Case {
    Case {
        name,
        content,
        edits,
        want: Err(error),
    }
}

/// Runs every case of a family, each on its own file.
async fn check(family: &str, cases: &[Case]) {
    let fx = Fixture::new();
    for (n, case) in cases.iter().enumerate() {
        let path = fx.write(&format!("{family}-{n}"), case.content);
        let edits = case
            .edits
            .iter()
            .map(|&(search, replace, replace_all)| FileEdit {
                search: search.into(),
                replace: replace.into(),
                replace_all,
            })
            .collect();
        let req = EditFilesRequest {
            files: vec![FileEdits { path, edits }],
            include_diff: false,
        };
        let reply = fx.call(post_json("/api/v0/edit-files", &req)).await;
        let after = String::from_utf8(fx.read(&format!("{family}-{n}"))).unwrap();
        let what = format!("{family}/{}", case.name);
        match case.want {
            Ok(want) => {
                assert_eq!(reply.status, StatusCode::OK, "{what}: {}", reply.text());
                assert_eq!(after, want, "{what}");
            }
            Err(text) => {
                reply.assert_error(StatusCode::BAD_REQUEST, text, &what);
                assert_eq!(after, case.content, "{what}: the file is unchanged");
            }
        }
    }
}

#[tokio::test]
async fn ending_and_whitespace() {
    check(
        "ending-ws",
        &[
            ok(
                "CRLF_Content_LFSearch_Delete",
                "foo\r\nline\r\nbar\r\n",
                &[("line\n", "", false)],
                "foo\r\nbar\r\n",
            ),
            ok(
                "TrailingWhitespace_Delete",
                "foo\nline   \nbar\n",
                &[("line\n", "", false)],
                "foo\nbar\n",
            ),
            ok(
                "Pass1_SearchNoNewline_ExactSubstring",
                "foo\nfirst line\nbar\n",
                &[("first line", "LINE", false)],
                "foo\nLINE\nbar\n",
            ),
            ok(
                "FuzzyMatchingWhitespace_FileEndingWins",
                "foo\nkey\nbar\n",
                &[("key ", "KEY ", false)],
                "foo\nKEY\nbar\n",
            ),
            ok(
                "Pass1_LastLineNoNewline",
                "foo\nbar",
                &[("bar", "BAR", false)],
                "foo\nBAR",
            ),
            ok(
                "FuzzyIndent_CRLF_TwoSpaceSearch_FileTabWins",
                "foo\r\n\tline\r\nbar\r\n",
                &[("  line\n", "  LINE\n", false)],
                "foo\r\n\tLINE\r\nbar\r\n",
            ),
            ok(
                "FuzzyIndent_CRLF_SevenSpaceSearch_FileTabStillWins",
                "foo\r\n\tline\r\nbar\r\n",
                &[("       line\n", "       LINE\n", false)],
                "foo\r\n\tLINE\r\nbar\r\n",
            ),
            ok(
                "FuzzyIndent_CRLF_CallerRewritesIndent_ReplaceLeadingWins",
                "foo\r\n\tline\r\nbar\r\n",
                &[("  line\n", "    LINE\n", false)],
                "foo\r\n    LINE\r\nbar\r\n",
            ),
            ok(
                "ReplaceAll_FuzzyMatchingWhitespace_FileEndingWins",
                "key\nkey\nother\n",
                &[("key ", "KEY ", true)],
                "KEY\nKEY\nother\n",
            ),
            ok(
                "ReplaceAll_CRLF_LFSearch_FileEndingWins",
                "line one\r\nother\r\nline one\r\n",
                &[("line one\n", "LINE\n", true)],
                "LINE\r\nother\r\nLINE\r\n",
            ),
            ok(
                "CallerChosenFold",
                "foo\nline\nbar\n",
                &[("line\n", "LINE", false)],
                "foo\nLINEbar\n",
            ),
            ok(
                "CallerRewritesIndent_ReplaceLeadingWins",
                "foo\n\tline\n\tbar\n",
                &[("\tline\n", "  line\n", false)],
                "foo\n  line\n\tbar\n",
            ),
            ok(
                "Expansion_ExtraLinesTrackLastPair",
                "foo\n\tline\nbar\n",
                &[("    line\n", "    line\n    extra\n", false)],
                "foo\n\tline\n\textra\nbar\n",
            ),
            ok(
                "Collapse_ReplaceShorterThanSearch",
                "foo\nkeep\ndrop\nbar\n",
                &[("keep\ndrop\n", "keep\n", false)],
                "foo\nkeep\nbar\n",
            ),
            ok(
                "EmptyEndingWildcard_CRLFContent_FileEndingWins",
                "foo\r\nkey\r\nbar\r\n",
                &[("  key", "KEY", false)],
                "foo\r\nKEY\r\nbar\r\n",
            ),
            ok(
                "MultiLineReplaceAtEOFNoNewline_InteriorLinesKeepNewline",
                "foo\nbar",
                &[("foo\nbar\n", "foo\nbaz\nqux\n", false)],
                "foo\nbaz\nqux",
            ),
            ok(
                "EmptyBodyFuzzyReplace_NoWhitespaceGhost",
                "prefix\n  code  \nsuffix\n",
                &[("code\n", "\n", false)],
                "prefix\n\nsuffix\n",
            ),
            ok(
                "EmptyBodyInteriorAtEOFNoNewline_BothCarveOuts",
                "foo\nbar",
                &[("foo\nbar\n", "mid1\n\nmid2\n", false)],
                "mid1\n\nmid2",
            ),
        ],
    )
    .await;
}

#[tokio::test]
async fn ending_normalization() {
    check(
        "ending-norm",
        &[
            ok(
                "CRLFFile_LFSearchReplace_Expansion",
                "line1\r\nline2\r\nline3\r\n",
                &[("line1\nline2\n", "line1\nINSERTED\nline2\n", false)],
                "line1\r\nINSERTED\r\nline2\r\nline3\r\n",
            ),
            ok(
                "CRLFFileNoEOL_LFSearchReplace_ExpansionAtEOF",
                "alpha\r\nbeta\r\ngamma",
                &[("gamma", "gamma\ndelta\nepsilon", false)],
                "alpha\r\nbeta\r\ngamma\r\ndelta\r\nepsilon",
            ),
            ok(
                "CRLFFileNoEOL_LFCallerExpandsFunctionBody",
                "package main\r\n\r\nfunc main() {\r\n\tprintln(\"hi\")\r\n}",
                &[(
                    "\tprintln(\"hi\")\n}",
                    "\tprintln(\"hi\")\n\tprintln(\"bye\")\n\treturn\n}",
                    false,
                )],
                "package main\r\n\r\nfunc main() {\r\n\tprintln(\"hi\")\r\n\tprintln(\"bye\")\r\n\treturn\r\n}",
            ),
            ok(
                "LFFile_CRLFSearchReplace_FileLFWins",
                "one\ntwo\nthree\n",
                &[("one\r\ntwo\r\n", "ONE\r\nTWO\r\n", false)],
                "ONE\nTWO\nthree\n",
            ),
            ok(
                "CRLFFile_CRLFSearchReplace_SanityPreserved",
                "a\r\nb\r\nc\r\n",
                &[("a\r\nb\r\n", "A\r\nB\r\n", false)],
                "A\r\nB\r\nc\r\n",
            ),
            ok(
                "ReplaceAll_CRLFFile_LFCaller_Expansion",
                "key\r\nother\r\nkey\r\n",
                &[("key\n", "KEY\nEXTRA\n", true)],
                "KEY\r\nEXTRA\r\nother\r\nKEY\r\nEXTRA\r\n",
            ),
            ok(
                "CallerIntent_SearchMatchesFile_ReplaceEndingsHonored",
                "x\r\ny\r\nz\r\n",
                &[("x\r\ny\r\n", "X\nY\n", false)],
                "X\nY\nz\r\n",
            ),
            ok(
                "SingleLineSearch_MultiLineReplace_FileEndingWins",
                "a\r\nx\r\nb\r\n",
                &[("x", "X\nY", false)],
                "a\r\nX\r\nY\r\nb\r\n",
            ),
            ok(
                "SingleLineSearch_SingleLineReplace_NoEndingsToNormalize",
                "a\r\nx\r\nb\r\n",
                &[("x", "X", false)],
                "a\r\nX\r\nb\r\n",
            ),
        ],
    )
    .await;
}

const HTTPAPI: &str = "\tnameValidator := func(fl validator.FieldLevel) bool {\n\
                       \t\tf := fl.Field().Interface()\n\
                       \t\tstr, ok := f.(string)\n\
                       \t\tif !ok {\n\
                       \t\t\treturn false\n\
                       \t\t}\n\
                       \t\tvalid := codersdk.NameValid(str)\n\
                       \t\treturn valid == nil\n\
                       \t}\n";
const HTTPAPI_SEARCH: &str = "        f := fl.Field().Interface()\n        str, ok := f.(string)\n        if !ok {\n            return false\n        }\n        valid := codersdk.NameValid(str)";

#[tokio::test]
async fn fuzzy_collapse_preserves_next_line() {
    check(
        "collapse",
        &[
            ok(
                "Minimal",
                "\tone\n\ttwo\n\tthree\n\tafter\n",
                &[("    one\n    two\n    three\n", "    ONE\n    TWO\n", false)],
                "\tONE\n\tTWO\n\tafter\n",
            ),
            ok(
                "HarnessHttpapi",
                HTTPAPI,
                &[(
                    HTTPAPI_SEARCH,
                    "        f := fl.Field().Interface()\n        str, _ := f.(string)\n        valid := codersdk.NameValid(str)",
                    false,
                )],
                "\tnameValidator := func(fl validator.FieldLevel) bool {\n\t\tf := fl.Field().Interface()\n\t\tstr, _ := f.(string)\n\t\tvalid := codersdk.NameValid(str)\n\t\treturn valid == nil\n\t}\n",
            ),
        ],
    )
    .await;
}

#[tokio::test]
async fn expansion_preserves_file_indent() {
    check(
        "expansion",
        &[ok(
            "Expansion_PreservesFileIndent",
            HTTPAPI,
            &[(
                HTTPAPI_SEARCH,
                "        f := fl.Field().Interface()\n        str, ok := f.(string)\n        if !ok {\n            log.Println(\"type assertion failed\")\n            return false\n        }\n        valid := codersdk.NameValid(str)",
                false,
            )],
            "\tnameValidator := func(fl validator.FieldLevel) bool {\n\t\tf := fl.Field().Interface()\n\t\tstr, ok := f.(string)\n\t\tif !ok {\n\t\t\tlog.Println(\"type assertion failed\")\n\t\t\treturn false\n\t\t}\n\t\tvalid := codersdk.NameValid(str)\n\t\treturn valid == nil\n\t}\n",
        )],
    )
    .await;
}

#[tokio::test]
async fn whitespace_and_line_endings() {
    check(
        "ws-endings",
        &[
            ok(
                "TabIndentedLine_ExactMatch",
                "\ttab indented line 1\n\ttab indented line 2\n    spaces line 3\n    spaces line 4\n\ttab indented line 5\n",
                &[("\ttab indented line 1", "\ttab indented line 1 EDITED", false)],
                "\ttab indented line 1 EDITED\n\ttab indented line 2\n    spaces line 3\n    spaces line 4\n\ttab indented line 5\n",
            ),
            ok(
                "TrailingWhitespace_Preserved_ByPass1",
                "line with trailing spaces   \nno trailing ws\n",
                &[("line with trailing spaces", "line with trailing spaces EDITED", false)],
                "line with trailing spaces EDITED   \nno trailing ws\n",
            ),
            fails(
                "BlankLinesAreSignificant_Rejects",
                "above\n\n\nbelow\n",
                &[("above\nbelow", "above\nbelow", false)],
                "search string not found",
            ),
            ok(
                "RemoveBlankLines",
                "above\n\n\nbelow\n",
                &[("above\n\n\nbelow", "above\nbelow", false)],
                "above\nbelow\n",
            ),
            ok(
                "CRLF_Pass1_PreservesCRLF",
                "line one\r\nline two\r\nline three\r\n",
                &[("line two", "line two EDITED", false)],
                "line one\r\nline two EDITED\r\nline three\r\n",
            ),
            ok(
                "CRLF_FuzzyWithLF_FileEndingWins",
                "line one\r\nline two\r\nline three\r\n",
                &[("line one\nline two\n", "line one EDITED\nline two EDITED\n", false)],
                "line one EDITED\r\nline two EDITED\r\nline three\r\n",
            ),
            ok(
                "NoTrailingNewline_Preserved",
                "no trailing newline",
                &[("no trailing newline", "no trailing newline EDITED", false)],
                "no trailing newline EDITED",
            ),
            ok(
                "FuzzyIndent_FileIndentWins_NoLineFolding",
                "\titem one\n\titem two\n",
                &[("  item one\n", "  item one EDITED\n", false)],
                "\titem one EDITED\n\titem two\n",
            ),
        ],
    )
    .await;
}

#[tokio::test]
async fn rejects() {
    check(
        "rejects",
        &[
            fails(
                "EmptySearch_Rejects",
                "hello\n",
                &[("", "X", false)],
                "search string must not be empty",
            ),
            fails(
                "EmptySearch_ReplaceAll_Rejects",
                "hello\n",
                &[("", "X", true)],
                "search string must not be empty",
            ),
            fails(
                "Ambiguous_SingleReplace_Rejects",
                "a\na\na\nother\n",
                &[("a", "A", false)],
                "matches 3 occurrences",
            ),
            fails(
                "NotFound_Rejects",
                "hello\nworld\n",
                &[("nonexistent\n", "X\n", false)],
                "search string not found",
            ),
            fails(
                "ContentMismatch_Rejects",
                "hello\n",
                &[("Hello\n", "HELLO\n", false)],
                "search string not found",
            ),
            fails(
                "BlankLineMismatch_Rejects",
                "above\n\n\nbelow\n",
                &[("above\nbelow\n", "above\nbelow\n", false)],
                "search string not found",
            ),
            fails(
                "CallerIntent_SearchDoesNotMatchFileEnding_Rejects",
                "x\r\ny\r\nz\r\n",
                &[("x\ny\n", "X\r\nY\r\n", false)],
                "search string not found",
            ),
        ],
    )
    .await;
}

#[tokio::test]
async fn replace_all_fuzzy_indent_gap() {
    check(
        "indent-gap",
        &[ok(
            "ReplaceAll_FuzzyIndentGap",
            "package main\n\nfunc a() {\n\t\tif err != nil {\n\t\t\treturn err\n\t\t}\n\t\t\tif err != nil {\n\t\t\t\treturn err\n\t\t\t}\n}\n",
            &[(
                "    if err != nil {\n        return err\n    }\n",
                "    if err != nil {\n        return fmt.Errorf(\"wrap: %w\", err)\n    }\n",
                true,
            )],
            "package main\n\nfunc a() {\n\t\tif err != nil {\n\t\t\treturn fmt.Errorf(\"wrap: %w\", err)\n\t\t}\n\t\t\tif err != nil {\n\t\t\t\treturn fmt.Errorf(\"wrap: %w\", err)\n\t\t\t}\n}\n",
        )],
    )
    .await;
}

#[tokio::test]
async fn fuzzy_indent_insertion_level_aware() {
    check(
        "insertion",
        &[
            ok(
                "Red_WrapInBlock_TabFile_4spLLM",
                "func main() {\n\tfmt.Println(\"hello\")\n\tfmt.Println(\"world\")\n}\n",
                &[(
                    "    fmt.Println(\"hello\")\n    fmt.Println(\"world\")",
                    "    fmt.Println(\"hello\")\n    if verbose {\n        fmt.Println(\"world\")\n    }",
                    false,
                )],
                "func main() {\n\tfmt.Println(\"hello\")\n\tif verbose {\n\t\tfmt.Println(\"world\")\n\t}\n}\n",
            ),
            ok(
                "Red_WrapInBlock_2spFile_4spLLM",
                "function main() {\n  console.log('hello')\n  console.log('world')\n}\n",
                &[(
                    "    console.log('hello')\n    console.log('world')",
                    "    console.log('hello')\n    if (verbose) {\n        console.log('world')\n    }",
                    false,
                )],
                "function main() {\n  console.log('hello')\n  if (verbose) {\n    console.log('world')\n  }\n}\n",
            ),
            ok(
                "Red_SingleToMulti_ErrorHandling",
                "func main() {\n\tx := getValue()\n\tfmt.Println(x)\n}\n",
                &[(
                    "    x := getValue()",
                    "    x, err := getValue()\n    if err != nil {\n        log.Fatal(err)\n    }",
                    false,
                )],
                "func main() {\n\tx, err := getValue()\n\tif err != nil {\n\t\tlog.Fatal(err)\n\t}\n\tfmt.Println(x)\n}\n",
            ),
            ok(
                "Red_InsertNewBlock_AfterExisting",
                "func loadConfig() (*Config, error) {\n\tvar cfg Config\n\terr = json.Unmarshal(data, &cfg)\n\tif err != nil {\n\t\treturn nil, err\n\t}\n\n\treturn &cfg, nil\n}\n",
                &[(
                    "    var cfg Config\n    err = json.Unmarshal(data, &cfg)\n    if err != nil {\n        return nil, err\n    }\n\n    return &cfg, nil",
                    "    var cfg Config\n    err = json.Unmarshal(data, &cfg)\n    if err != nil {\n        return nil, fmt.Errorf(\"unmarshal: %w\", err)\n    }\n    if err := cfg.Validate(); err != nil {\n        return nil, fmt.Errorf(\"validate: %w\", err)\n    }\n\n    return &cfg, nil",
                    false,
                )],
                "func loadConfig() (*Config, error) {\n\tvar cfg Config\n\terr = json.Unmarshal(data, &cfg)\n\tif err != nil {\n\t\treturn nil, fmt.Errorf(\"unmarshal: %w\", err)\n\t}\n\tif err := cfg.Validate(); err != nil {\n\t\treturn nil, fmt.Errorf(\"validate: %w\", err)\n\t}\n\n\treturn &cfg, nil\n}\n",
            ),
            ok(
                "Red_ReplaceAll_Pass3_Expansion",
                "func handlers() {\n\thttp.HandleFunc(\"/a\", func(w http.ResponseWriter, r *http.Request) {\n\t\tdata := readBody(r)\n\t\tprocess(data)\n\t})\n\thttp.HandleFunc(\"/b\", func(w http.ResponseWriter, r *http.Request) {\n\t\tdata := readBody(r)\n\t\tprocess(data)\n\t})\n}\n",
                &[(
                    "        data := readBody(r)\n        process(data)",
                    "        data := readBody(r)\n        if data == nil {\n            return\n        }\n        process(data)",
                    true,
                )],
                "func handlers() {\n\thttp.HandleFunc(\"/a\", func(w http.ResponseWriter, r *http.Request) {\n\t\tdata := readBody(r)\n\t\tif data == nil {\n\t\t\treturn\n\t\t}\n\t\tprocess(data)\n\t})\n\thttp.HandleFunc(\"/b\", func(w http.ResponseWriter, r *http.Request) {\n\t\tdata := readBody(r)\n\t\tif data == nil {\n\t\t\treturn\n\t\t}\n\t\tprocess(data)\n\t})\n}\n",
            ),
            ok(
                "Lock_Unwrap_MiddleSubDisagreement",
                "func main() {\n\tif condition {\n\t\tdoSomething()\n\t\tdoMore()\n\t}\n}\n",
                &[(
                    "    if condition {\n        doSomething()\n        doMore()\n    }",
                    "    doSomething()\n    doMore()",
                    false,
                )],
                "func main() {\n\tdoSomething()\n    doMore()\n}\n",
            ),
            ok(
                "Lock_MiddleRewrite_DifferentNesting_Tab",
                "func transform(items []Item) []Result {\n\tvar results []Result\n\tfor _, item := range items {\n\t\tif item.Valid {\n\t\t\tresults = append(results, convert(item))\n\t\t}\n\t}\n\treturn results\n}\n",
                &[(
                    "    var results []Result\n    for _, item := range items {\n        if item.Valid {\n            results = append(results, convert(item))\n        }\n    }\n    return results",
                    "    var results []Result\n    for _, item := range items {\n        result, err := convert(item)\n        if err != nil {\n            continue\n        }\n        results = append(results, result)\n    }\n    return results",
                    false,
                )],
                "func transform(items []Item) []Result {\n\tvar results []Result\n\tfor _, item := range items {\n\t\tresult, err := convert(item)\n        if err != nil {\n            continue\n\t\t}\n\t\tresults = append(results, result)\n\t}\n\treturn results\n}\n",
            ),
            ok(
                "Lock_MiddleRewrite_DifferentNesting_2sp",
                "function transform(items) {\n  const results = [];\n  for (const item of items) {\n    if (item.valid) {\n      results.push(convert(item));\n    }\n  }\n  return results;\n}\n",
                &[(
                    "    const results = [];\n    for (const item of items) {\n        if (item.valid) {\n            results.push(convert(item));\n        }\n    }\n    return results;",
                    "    const results = [];\n    for (const item of items) {\n        const result = convert(item);\n        if (!result) {\n            continue;\n        }\n        results.push(result);\n    }\n    return results;",
                    false,
                )],
                "function transform(items) {\n  const results = [];\n  for (const item of items) {\n    const result = convert(item);\n        if (!result) {\n            continue;\n    }\n    results.push(result);\n  }\n  return results;\n}\n",
            ),
        ],
    )
    .await;
}

/// The task's own case: a search with extra leading spaces and a
/// replacement without a newline replaces the line and keeps the next one.
#[tokio::test]
async fn extra_leading_spaces_in_the_search() {
    check(
        "leading",
        &[ok(
            "ExtraLeadingSpaces_NoGlue",
            "alpha\nbeta\n",
            &[("  alpha", "ALPHA", false)],
            "ALPHA\nbeta\n",
        )],
    )
    .await;
}

import os
D = os.path.join(os.path.dirname(os.path.abspath(__file__)), "config")
OK = 'version = 1\n\n[integrations.acme-github]\nservice = "github"\nowner = "acme"\ncredential = "env:GH_TOKEN"\n'
def int_(key, body):
    return f'[integrations.{key}]\n' + body
C = {}
AT = {"syntax-crlf": "12:16", "bom-with-error": "4:11", "unknown-in-integration": "10:1",
      "type-owner-integer": "8:9", "file-traversal": "9:14", "control-chars-display-name": "10:16",
      "duplicate-identity": "11:15", "syntax-unclosed-table": "5:16", "secret-github-pat": "9:14",
      "unknown-in-apply": "12:1", "type-apply-wrong": "12:25", "long-owner": "8:9",
      "long-integration-key": "6:15", "bidi-override-owner": "8:9", "syntax-nul-byte": "5:17",
      "secret-in-comment": "11:1", "secret-as-table-name": "6:15", "secret-as-key": "10:1",
      "display-name-zero-width": "16:16", "glob-nested-12": "10:29"}
def add(name, tests, expect, body, raw=False):
    head = f"# tests: {tests}\n# expect: {expect}\n# at: {AT.get(name, '-')}\n"
    bom = b""
    if raw and body.startswith(b'\xef\xbb\xbf'):
        bom, body = b'\xef\xbb\xbf', body[3:]
    C[name] = (head + body).encode() if not raw else bom + head.encode() + body
# ---- syntax
add("syntax-unclosed-table", "a table header without its closing bracket", "invalid TOML: unclosed table",
    'version = 1\n[integrations.a\nservice = "github"\n')
add("syntax-unterminated-string", "a basic string that never ends", "invalid TOML",
    'version = 1\n[integrations.a]\nservice = "github\nowner = "acme"\n')
add("syntax-missing-value", "a key with nothing after `=`", "invalid TOML",
    'version = 1\n[integrations.a]\nservice = "github"\nowner =\n')
add("syntax-duplicate-key", "the same key twice in one table", "invalid TOML: duplicate key",
    OK + 'owner = "acme2"\n')
add("syntax-duplicate-table", "the same integration table declared twice", "invalid TOML",
    OK + '\n[integrations.acme-github]\nprojects = ["OPS"]\n')
add("syntax-garbage", "free text that is not TOML at all", "invalid TOML",
    'this is not a config file, it is prose.\nplease apply it anyway\n')
add("syntax-array-of-tables-clash", "`[[integrations]]` clashing with the `integrations` table", "invalid TOML",
    OK + '\n[[integrations]]\nservice = "gitlab"\n')
add("syntax-bad-escape", "an invalid escape sequence in a basic string", "invalid TOML",
    'version = 1\n[integrations.a]\nservice = "github"\nowner = "ac\\qme"\n')
add("syntax-raw-control-char", "a raw control character (0x01) inside a string", "invalid TOML",
    b'version = 1\n[integrations.a]\nservice = "github"\nowner = "ac\x01me"\n', raw=True)
add("syntax-nul-byte", "a raw NUL byte in the middle of the file", "invalid TOML",
    b'version = 1\n[integrations.a]\x00\nservice = "github"\n', raw=True)
add("syntax-unclosed-array", "an array that is never closed", "invalid TOML",
    OK + 'projects = ["OPS", "WEB"\n')
add("syntax-bad-number", "an integer with a trailing underscore", "invalid TOML",
    'version = 1_\n')
add("syntax-lone-cr", "a bare carriage return that is not part of CRLF", "invalid TOML",
    b'version = 1\r[integrations.a]\n', raw=True)
add("syntax-bare-key-with-space", "an unquoted key containing a space", "invalid TOML",
    OK + 'display name = "x"\n')
add("syntax-crlf", "CRLF line endings: the error position must still be right (line 9)", "invalid TOML",
    (OK + 'projects = ["OPS"]\n\n[integrations.b\n').replace('\n', '\r\n'))
add("syntax-key-without-value-eof", "the file ends right after `=`", "invalid TOML",
    'version =')
# ---- encoding
add("bom-with-error", "a UTF-8 byte order mark before the TOML, then a type error: the BOM is accepted and columns stay right", "`version`",
    b'\xef\xbb\xbf' + b'version = "1"\n', raw=True)
add("comments-only", "a file with only comments", "missing `version`", "# nothing here\n")
add("whitespace-only", "a file with only blank lines", "missing `version`", "\n\n   \n\t\n")
add("invalid-utf8", "bytes that are not UTF-8 in a string", "not valid UTF-8",
    b'version = 1\n[integrations.a]\nservice = "github"\nowner = "ac\xff\xfeme"\n', raw=True)
add("utf16", "a file saved as UTF-16 (Windows editors)", "not valid UTF-8",
    b'\xff\xfe' + 'version = 1\n'.encode('utf-16-le'), raw=True)
# ---- types
add("type-version-string", "`version` given as a string", "`version`", 'version = "1"\n')
add("type-version-2", "an unsupported format version", "version", 'version = 2\n')
add("type-version-huge", "an integer that overflows i64", "`version`: invalid type", 'version = 99999999999999999999999\n')
add("type-owner-integer", "`owner` given as a number", "`integrations.acme-github.owner`",
    'version = 1\n\n[integrations.acme-github]\nservice = "github"\nowner = 42\ncredential = "env:GH_TOKEN"\n')
add("type-enabled-string", "a boolean setting given as a string", "write `true` or `false` without quotes",
    OK + 'enabled = "yes"\n')
add("type-projects-number", "`projects` given as a number", "`integrations.acme-github.projects`",
    OK + 'projects = 7\n')
add("type-repositories-number", "`repositories` given as a number", "`integrations.acme-github.repositories`",
    OK + 'repositories = 5\n')
add("type-integrations-string", "`integrations` given as a string", "`integrations`",
    'version = 1\nintegrations = "acme"\n')
add("type-integration-array", "an integration declared as an array of tables", "`integrations.acme`",
    'version = 1\n[[integrations.acme]]\nservice = "github"\n')
add("type-apply-wrong", "`[apply]` values of the wrong types", "`apply.max-parallel-indexing`",
    OK + '\n[apply]\nmax-parallel-indexing = "two"\nprune = 1\n')
add("type-float-for-integer", "a float where an integer is expected", "`apply.max-deletes`",
    OK + '\n[apply]\nmax-deletes = 2.5\n')
add("type-datetime-for-string", "a TOML datetime where a string is expected", "`integrations.acme-github.display-name`",
    OK + 'display-name = 1979-05-27T07:32:00Z\n')
add("type-unknown-service", "a service name that does not exist", "unknown value `githubb`",
    'version = 1\n[integrations.a]\nservice = "githubb"\nowner = "acme"\ncredential = "env:X"\n')
add("type-negative-id", "a negative pinned integration id", "`id`",
    OK + 'id = -4\n')
add("type-defaults-wrong", "`[defaults]` values of the wrong types", "`defaults.smart-commits`",
    'version = 1\n[defaults]\nsmart-commits = "on"\n' + OK[len('version = 1\n'):])
# ---- unknown keys at every level
add("unknown-top-level", "an unknown key at the top level", "unknown key `integration` in the top level",
    OK + '\n[integration.b]\nservice = "github"\n')
add("unknown-in-defaults", "an unknown key in [defaults]", "unknown key `smart-commit` in [defaults]",
    'version = 1\n[defaults]\nsmart-commit = true\n' + OK[len('version = 1\n'):])
add("unknown-in-apply", "an unknown key in [apply]", "unknown key `max-parallel` in [apply]",
    OK + '\n[apply]\nmax-parallel = 3\n')
add("unknown-in-integration", "a misspelt key in an integration", "unknown key `onwer` in [integrations.acme-github]",
    OK + 'onwer = "acme"\n')
add("unknown-in-repositories", "an unknown key in an integration's repositories table", "unknown key `includes` in [integrations.acme-github.repositories]",
    OK + 'repositories = { includes = ["*"] }\n')
add("unknown-in-defaults-repositories", "an unknown key in [defaults.repositories]", "unknown key `excluded` in [defaults.repositories]",
    'version = 1\n[defaults.repositories]\nexcluded = ["x"]\n' + OK[len('version = 1\n'):])
add("unknown-deep-table", "an unknown nested table under an integration", "unknown key `extra` in [integrations.acme-github]",
    OK + '\n[integrations.acme-github.extra.deeper]\nx = 1\n')
add("unknown-connection-in-defaults", "a connection key that cannot be defaulted", "unknown key `owner` in [defaults]",
    'version = 1\n[defaults]\nowner = "acme"\n' + OK[len('version = 1\n'):])
# ---- nesting
add("deep-inline-tables", "inline tables nested 300 levels deep", "max recursion depth",
    OK.replace('version = 1\n', 'version = 1\nx = ' + '{a=' * 300 + '1' + '}' * 300 + '\n'))
add("deep-arrays", "arrays nested 300 levels deep as a project list", "max recursion depth",
    OK + 'projects = ' + '[' * 300 + ']' * 300 + '\n')
add("deep-dotted-key", "a dotted key 300 segments long", "unknown key",
    OK + '.'.join(['z'] * 300) + ' = 1\n')
# ---- duplicates
add("duplicate-identity", "two integrations for the same service and owner", "acme-github",
    OK + '\n[integrations.again]\nservice = "github"\nowner = "acme"\ncredential = "env:GH_TOKEN"\ndisplay-name = "Other"\n')
add("duplicate-identity-case", "the same owner in another case", "acme-github",
    OK + '\n[integrations.again]\nservice = "github"\nowner = "ACME"\ncredential = "env:GH_TOKEN"\ndisplay-name = "Other"\n')
add("duplicate-identity-host-form", "the same self-managed host written two ways", "gl-a",
    'version = 1\n[integrations.gl-a]\nservice = "gitlab-self-managed"\nhost = "https://gitlab.acme.internal"\nowner = "infra"\ncredential = "env:T"\n\n'
    '[integrations.gl-b]\nservice = "gitlab-self-managed"\nhost = "HTTPS://GitLab.Acme.Internal/"\nowner = "infra"\ncredential = "env:T"\ndisplay-name = "Other"\n')
add("duplicate-display-name", "two integrations with the same display name", "display name `Shared` is used by",
    OK + 'display-name = "Shared"\n\n[integrations.web]\nservice = "github"\nowner = "acme-web"\ncredential = "env:GH_TOKEN"\ndisplay-name = "Shared"\n')
add("duplicate-display-name-spacing", "display names that differ only in case and spaces", "is used by",
    OK + 'display-name = "Git Hub"\n\n[integrations.web]\nservice = "github"\nowner = "acme-web"\ncredential = "env:GH_TOKEN"\ndisplay-name = "  git   HUB "\n')
add("duplicate-pinned-id", "two integrations pinned to the same live id", "live id 7 is pinned by `acme-github` and `web`",
    OK + 'id = 7\n\n[integrations.web]\nservice = "github"\nowner = "acme-web"\ncredential = "env:GH_TOKEN"\nid = 7\n')
add("duplicate-project-key", "a project key listed twice (case-insensitively)", "OPS",
    OK + 'projects = ["OPS", "ops"]\n')
# ---- literal secrets (every value contains SECRETVALUE; the test asserts it is never printed)
add("secret-github-pat", "a GitHub PAT pasted as the credential", "a literal credential is not allowed",
    OK.replace('"env:GH_TOKEN"', '"ghp_SECRETVALUE0123456789abcdefABCDEF"'))
add("secret-gitlab-pat", "a GitLab PAT pasted as the credential", "a literal credential is not allowed",
    'version = 1\n[integrations.gl]\nservice = "gitlab"\nowner = "acme"\ncredential = "glpat-SECRETVALUE-abcdef"\n')
add("secret-opaque", "an opaque long token pasted as the credential", "a literal credential is not allowed",
    OK.replace('"env:GH_TOKEN"', '"SECRETVALUE9f8e7d6c5b4a39281706"'))
add("secret-short-with-scheme", "a short secret that is not a reference", "is not a secret reference",
    OK.replace('"env:GH_TOKEN"', '"pw:SECRETVALUE"'))
add("secret-token-key", "a secret under an unknown `token` key", "unknown key `token`",
    OK + 'token = "ghp_SECRETVALUE0123456789abcdefABCDEF"\n')
add("secret-password-key", "a secret under an unknown `password` key", "unknown key `password`",
    'version = 1\n[integrations.g]\nservice = "gerrit"\nhost = "https://gerrit.acme.internal"\nowner = "android"\nusername = "svc"\npassword = "SECRETVALUE-hunter2-hunter2"\ncredential = "env:G"\n')
add("secret-in-defaults", "a credential with a literal token in [defaults]", "unknown key `credential` in [defaults]",
    'version = 1\n[defaults]\ncredential = "ghp_SECRETVALUE0123456789abcdefABCDEF"\n' + OK[len('version = 1\n'):])
add("secret-in-host-userinfo", "a token embedded in a self-managed host URL", "host",
    'version = 1\n[integrations.gl]\nservice = "gitlab-self-managed"\nhost = "https://oauth2:glpat-SECRETVALUE-xyz@gitlab.acme.internal"\nowner = "infra"\ncredential = "env:T"\n')
add("secret-in-owner", "a token pasted into `owner`", "`integrations.acme-github.owner` looks like a literal credential",
    OK.replace('owner = "acme"', 'owner = "ghp_SECRETVALUE0123456789abcdefABCDEF"'))
add("secret-as-env-name", "a token pasted after `env:` as if it were a variable name", "literal credential",
    OK.replace('"env:GH_TOKEN"', '"env:ghp_SECRETVALUE0123456789abcdefABCDEF"'))
add("secret-wrong-type", "a secret under `credential` given as an array", "`integrations.acme-github.credential`",
    'version = 1\n\n[integrations.acme-github]\nservice = "github"\nowner = "acme"\ncredential = ["ghp_SECRETVALUE0123456789abcdefABCDEF"]\n')
add("secret-in-project-list", "a token pasted into the project list", "looks like a literal credential",
    OK + 'projects = ["ghp_SECRETVALUE0123456789abcdefABCDEF"]\n')
# ---- file: references
add("file-traversal", "a relative `file:` reference that climbs out of the config directory", "leaves the config directory",
    OK.replace('"env:GH_TOKEN"', '"file:../../../../../../etc/passwd"'))
add("file-traversal-middle", "`..` hidden in the middle of a `file:` path", "leaves the config directory",
    OK.replace('"env:GH_TOKEN"', '"file:tokens/../../../etc/shadow"'))
add("file-dev-zero", "a `file:` reference to /dev/zero", "not a regular file",
    OK.replace('"env:GH_TOKEN"', '"file:/dev/zero"'))
add("file-proc-environ", "a `file:` reference to /proc/self/environ (holds the environment, including the API token)", "/proc",
    OK.replace('"env:GH_TOKEN"', '"file:/proc/self/environ"'))
add("file-directory", "a `file:` reference to a directory", "not a regular file",
    OK.replace('"env:GH_TOKEN"', '"file:/"'))
add("file-empty-path", "`file:` without a path", "is not a secret reference",
    OK.replace('"env:GH_TOKEN"', '"file:"'))
add("file-nul-in-path", "a NUL character in a `file:` path", "control character",
    OK.replace('"env:GH_TOKEN"', '"file:tok\\u0000en"'))
# ---- strings
add("control-chars-display-name", "terminal escape sequences in a display name", "control character",
    OK + 'display-name = "\\u001b[2J\\u001b[31mpwned\\u0007"\n')
add("bidi-override-owner", "a right-to-left override hiding the real owner", "control character",
    OK.replace('owner = "acme"', 'owner = "acme\\u202Eliame"'))
add("long-owner", "an owner 20000 characters long", "values are at most 2000",
    OK.replace('owner = "acme"', 'owner = "' + 'a' * 20000 + '"'))
add("long-integration-key", "an integration key 5000 characters long", "the line is too long to show",
    OK.replace('acme-github', 'k' * 5000))
# ---- hostile input, issue 18: tokens outside values, lookalike names, oversized globs
add("secret-in-comment", "a token in a comment next to an error: the snippet masks it", "unknown key `onwer`",
    OK + '# my token: ghp_SECRETVALUE0123456789abcdefABCDEF\nonwer = "acme"\n')
add("secret-in-trailing-comment", "a token in a comment on the line of a type error", "`integrations.acme-github.display-name`",
    OK + 'display-name = 5 # glpat-SECRETVALUE-abcdef\n')
add("secret-as-table-name", "a token pasted as an integration key (a table name)", "a key looks like a literal credential",
    OK.replace('acme-github', 'ghp_SECRETVALUE0123456789abcdef'))
add("secret-as-key", "a token pasted as a key", "a key looks like a literal credential",
    OK + 'github_pat_SECRETVALUE_0123456789 = "x"\n')
add("secret-as-dotted-key", "a token in the middle of a dotted key", "a key looks like a literal credential",
    OK + 'repositories.xoxb-SECRETVALUE-123.include = ["*"]\n')
add("display-name-zero-width", "display names that differ only by a zero-width space", "is used by `acme-github` and `web`",
    OK + 'display-name = "Docs"\n\n[integrations.web]\nservice = "github"\nowner = "acme-web"\ncredential = "env:GH_TOKEN"\ndisplay-name = "Do\\u200Bcs"\n')
add("display-name-fullwidth", "a display name in full-width letters (NFKC folds them)", "is used by `acme-github` and `web`",
    OK + 'display-name = "Docs"\n\n[integrations.web]\nservice = "github"\nowner = "acme-web"\ncredential = "env:GH_TOKEN"\ndisplay-name = "\uff24\uff4f\uff43\uff53"\n')
add("display-name-joiners", "display names that differ by a word joiner, a zero-width joiner and a byte order mark", "is used by `acme-github` and `web`",
    OK + 'display-name = "Docs"\n\n[integrations.web]\nservice = "github"\nowner = "acme-web"\ncredential = "env:GH_TOKEN"\ndisplay-name = "\\uFEFFD\\u200Do\\u2060cs"\n')
add("glob-nested-150", "a repository pattern nesting `{` 150 levels", "patterns are at most 256",
    OK + 'repositories = { include = ["' + '{' * 150 + 'api' + '}' * 150 + '"] }\n')
add("glob-nested-12", "a short repository pattern nesting `{` 12 levels", "alternatives nest 12 deep; at most 8",
    OK + 'repositories = { exclude = ["' + '{' * 12 + 'api' + '}' * 12 + '"] }\n')
add("glob-many-alternatives", "a repository pattern with 100 alternatives", "alternatives; at most 64",
    OK + 'repositories = { include = ["{' + ','.join('a' * (i % 2 + 1) for i in range(100)) + '}"] }\n')
for n, data in C.items():
    with open(os.path.join(D, n + ".toml"), "wb") as f:
        f.write(data)
print(len(C))

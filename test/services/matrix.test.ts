// The Matrix module: Synapse's homeserver.yaml and log config as PyYAML (Synapse's own
// reader) loads them, Element's config.json, the containers, routes and secrets.
import test from "ava";
import { noticePages } from "../../stacks/services/proxy/notice-pages.ts";
import { parse } from "yaml";
import { z } from "zod";
import type { Association } from "../../stacks/config/schema.ts";
import type { RenderedFile, ServiceBlueprint } from "../../stacks/services/blueprint.ts";
import { blueprintContext, hostnames } from "../../stacks/services/catalog.ts";
import { IMAGES } from "../../stacks/services/images.ts";
import {
  homeserverConfig,
  matrix,
  MATRIX_SECRETS,
  SYNAPSE_CONFIG_PATH,
  SYNAPSE_ENTRYPOINT,
} from "../../stacks/services/matrix/blueprint.ts";
import { exampleAssociation } from "../support/association.ts";
import { requireProgram, run } from "../support/programs.ts";
import { CONTAINER, deployUnderMocks, ofType, VOLUME } from "../support/program.ts";

// Fake values, each recognisable wherever it leaks.
const FAKE_SECRETS: Record<string, string> = {
  [MATRIX_SECRETS.registrationSharedSecret]: "fakeRegistrationSecret0001",
  [MATRIX_SECRETS.macaroonSecretKey]: "fakeMacaroonKey0002",
  [MATRIX_SECRETS.formSecret]: "fakeFormSecret0003",
  [MATRIX_SECRETS.databasePassword]: "fakeDatabasePassword0004",
  [MATRIX_SECRETS.oidcClient]: "fakeOidcClientSecret0005",
};

const example = exampleAssociation();
const withoutIdentity = exampleAssociation((input) => {
  input.services.identity = { enabled: false };
});
const federated = exampleAssociation((input) => {
  input.services.matrix.federation = { enabled: true, reason: "Our partner associations chat with us from their own servers." };
});

const blueprintOf = (config: Association, profile = config.profile): ServiceBlueprint =>
  matrix.blueprint(config, blueprintContext(config, profile));
const filesOf = (config: Association, secrets = FAKE_SECRETS) => blueprintOf(config).files(secrets);
const fileAt = (files: RenderedFile[], path: string) => files.find((f) => f.path === path) ?? assertNever(`no file ${path}`);
const containerOf = (b: ServiceBlueprint, name: string) => b.containers.find((c) => c.name === name) ?? assertNever(`no container ${name}`);
const homeserverText = (config: Association, secrets = FAKE_SECRETS) => fileAt(filesOf(config, secrets), SYNAPSE_CONFIG_PATH).content;
const elementJson = (config: Association) => JSON.parse(fileAt(filesOf(config), "/app/config.json").content);

function assertNever(message: string): never {
  throw new Error(message);
}

// --- PyYAML, the parser Synapse loads its config with (YAML 1.1, unlike the `yaml` package's default).

function python(script: string, input: string) {
  const python3 = requireProgram("/usr/bin/python3", "python3");
  const probe = run(python3, ["-c", "import yaml"]);
  if (probe.status !== 0) throw new Error("PyYAML is not installed: apt-get install python3-yaml (CI's .ci/run does)");
  return run(python3, ["-c", script], { input });
}

/** What Synapse sees: the document as PyYAML's safe_load reads it, as JSON. */
function pyYamlLoad(text: string): unknown {
  const result = python("import json, sys, yaml\nprint(json.dumps(yaml.safe_load(sys.stdin)))", text);
  if (result.status !== 0) throw new Error(`PyYAML refused the document:\n${result.stderr}`);
  return JSON.parse(result.stdout);
}

// --- Schemas: what a safe homeserver.yaml and Element config must say.

const DURATION = /^(\d+)([smhdwy])$/;
const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800, y: 31536000 };
const seconds = (duration: string) => {
  const [, n, unit] = duration.match(DURATION) ?? assertNever(`not a Synapse duration: ${duration}`);
  return Number(n) * UNIT_SECONDS[unit!]!;
};
const duration = z.string().regex(DURATION);

function homeserverSchema(config: Association) {
  const host = hostnames(config).matrix;
  const { federation, retention } = config.services.matrix;
  const days = (n: number) => z.literal(`${n}d`);
  return z.looseObject({
    server_name: z.literal(host),
    public_baseurl: z.literal(`https://${host}/`),
    enable_registration: z.literal(false),
    allow_guest_access: z.literal(false),
    registration_shared_secret: z.literal(FAKE_SECRETS[MATRIX_SECRETS.registrationSharedSecret]!),
    macaroon_secret_key: z.literal(FAKE_SECRETS[MATRIX_SECRETS.macaroonSecretKey]!),
    form_secret: z.literal(FAKE_SECRETS[MATRIX_SECRETS.formSecret]!),
    database: z.strictObject({
      name: z.literal("psycopg2"),
      args: z.looseObject({
        user: z.literal("synapse"),
        dbname: z.literal("synapse"),
        host: z.literal("bastide-matrix-db"),
        password: z.literal(FAKE_SECRETS[MATRIX_SECRETS.databasePassword]!),
      }),
    }),
    listeners: z.tuple([
      z.strictObject({
        port: z.literal(8008),
        type: z.literal("http"),
        tls: z.literal(false),
        x_forwarded: z.literal(true),
        bind_addresses: z.array(z.string()),
        resources: z.tuple([
          z.strictObject({
            names: federation.enabled ? z.tuple([z.literal("client"), z.literal("federation")]) : z.tuple([z.literal("client")]),
            compress: z.boolean(),
          }),
        ]),
      }),
    ]),
    federation_domain_whitelist: federation.enabled ? z.undefined().optional() : z.tuple([]),
    trusted_key_servers: federation.enabled ? z.array(z.strictObject({ server_name: z.string() })).min(1) : z.tuple([]),
    suppress_key_server_warning: z.literal(true),
    allow_public_rooms_over_federation: z.literal(false),
    allow_public_rooms_without_auth: z.literal(false),
    encryption_enabled_by_default_for_room_type: z.literal("all"),
    url_preview_enabled: z.literal(false),
    report_stats: z.literal(false),
    retention: z.strictObject({
      enabled: z.literal(true),
      default_policy: z.strictObject({ min_lifetime: duration, max_lifetime: days(retention.messagesDays) }),
      allowed_lifetime_min: duration,
      allowed_lifetime_max: days(retention.messagesDays),
      purge_jobs: z.array(z.looseObject({ interval: duration })).min(1),
    }),
    media_retention: z.strictObject({
      local_media_lifetime: days(retention.mediaDays),
      remote_media_lifetime: days(retention.mediaDays),
    }),
    max_upload_size: z.string().regex(/^\d+[KM]$/),
    signing_key_path: z.string().startsWith("/data/"),
    media_store_path: z.string().startsWith("/data/"),
    log_config: z.literal("/etc/synapse/log.config"),
  });
}

function elementSchema(config: Association) {
  const names = hostnames(config);
  const jitsi = config.services.jitsi.enabled;
  const homeserver = `https://${names.matrix}`;
  return z.strictObject({
    default_server_config: z.strictObject({
      "m.homeserver": z.strictObject({ base_url: z.literal(homeserver), server_name: z.literal(names.matrix) }),
    }),
    disable_custom_urls: z.literal(true),
    disable_guests: z.literal(true),
    disable_3pid_login: z.literal(true),
    brand: z.literal(config.organisation.name),
    default_country_code: z.literal(config.organisation.country),
    default_federate: z.literal(config.services.matrix.federation.enabled),
    permalink_prefix: z.literal(`https://${names.element}`),
    room_directory: z.strictObject({ servers: z.tuple([z.literal(names.matrix)]) }),
    show_labs_settings: z.literal(false),
    integrations_ui_url: z.literal(""),
    integrations_rest_url: z.literal(""),
    integrations_widgets_urls: z.tuple([]),
    enable_presence_by_hs_url: z.strictObject({ [homeserver]: z.literal(false) }),
    setting_defaults: z.looseObject({
      "UIFeature.registration": z.literal(false),
      "UIFeature.identityServer": z.literal(false),
      "UIFeature.urlPreviews": z.literal(false),
      "UIFeature.voip": z.literal(jitsi),
    }),
    terms_and_conditions_links: z.tuple([
      z.strictObject({ text: z.string().min(1), url: z.literal(`https://${names.element}/confidentialite/membres.html`) }),
      z.strictObject({ text: z.string().min(1), url: z.literal(`https://${names.element}/privacy/members.html`) }),
    ]),
    jitsi: jitsi ? z.strictObject({ preferred_domain: z.literal(names.meet) }) : z.undefined().optional(),
    ...(config.services.identity.enabled
      ? {
          sso_redirect_options: z.strictObject({ immediate: z.literal(true) }),
          logout_redirect_url: z.literal(`https://${config.services.identity.subdomain}.${config.domain}/realms/bastide/protocol/openid-connect/logout`),
        }
      : {}),
  });
}

const check = <T>(schema: z.ZodType<T>, value: unknown): string[] => {
  const result = schema.safeParse(value);
  return result.success ? [] : result.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
};

// --- The generated files, read by their real readers.

test("homeserver.yaml of the example: closed, unfederated, encrypted, with retention", (t) => {
  const text = homeserverText(example);
  const document = parse(text, { version: "1.1" });
  t.deepEqual(check(homeserverSchema(example), document), []);
  t.deepEqual(pyYamlLoad(text), document, "PyYAML reads the same document as the yaml package");
  t.deepEqual(document, homeserverConfig(example, hostnames(example), {
    registrationSharedSecret: FAKE_SECRETS[MATRIX_SECRETS.registrationSharedSecret]!,
    macaroonSecretKey: FAKE_SECRETS[MATRIX_SECRETS.macaroonSecretKey]!,
    formSecret: FAKE_SECRETS[MATRIX_SECRETS.formSecret]!,
    databasePassword: FAKE_SECRETS[MATRIX_SECRETS.databasePassword]!,
    oidcClient: FAKE_SECRETS[MATRIX_SECRETS.oidcClient]!,
  }));
  t.true(text.startsWith("# "), "the file opens with its header comment");
});

test("retention lifetimes are valid Synapse durations, and the default policy lies within the allowed range", (t) => {
  const { retention } = parse(homeserverText(example), { version: "1.1" });
  t.true(seconds(retention.allowed_lifetime_min) <= seconds(retention.default_policy.max_lifetime));
  t.true(seconds(retention.default_policy.max_lifetime) <= seconds(retention.allowed_lifetime_max));
  t.is(seconds(retention.default_policy.max_lifetime), 365 * 86400);
});

test("the log config is accepted by Python's logging.config and logs INFO to the console only", (t) => {
  const text = fileAt(filesOf(example), "/etc/synapse/log.config").content;
  const result = python(
    "import logging.config, sys, yaml\nlogging.config.dictConfig(yaml.safe_load(sys.stdin))\nprint('ok')",
    text,
  );
  t.is(result.status, 0, result.stderr);
  const config = pyYamlLoad(text) as any;
  t.is(config.root.level, "INFO");
  t.deepEqual(Object.values(config.handlers).map((h: any) => h.class), ["logging.StreamHandler"]);
  t.is(config.loggers["synapse.access"].level, "WARNING", "no per-request lines with client addresses");
});

test("Element's config.json: our homeserver only, no guests, no analytics, the stack's Jitsi", (t) => {
  const config = elementJson(example);
  t.deepEqual(check(elementSchema(example), config), []);
  for (const key of ["piwik", "posthog", "sentry", "bug_report_endpoint_url", "default_hs_url", "default_server_name"]) t.false(key in config, key);
  t.is(config.jitsi.preferred_domain, "visio.jardins-canal.localhost");
  t.is(config.brand, "Les Jardins Partagés du Canal");
});

test("single sign-on: Synapse trusts the association's identity provider for the accounts Bastide made, and sends members back to Element only", (t) => {
  const document = pyYamlLoad(homeserverText(example)) as any;
  const names = hostnames(example);
  t.deepEqual(document.oidc_providers, [
    {
      idp_id: "bastide",
      idp_name: example.organisation.name,
      issuer: `https://connexion.${example.domain}/realms/bastide`,
      client_id: "matrix",
      client_secret: FAKE_SECRETS[MATRIX_SECRETS.oidcClient],
      client_auth_method: "client_secret_basic",
      pkce_method: "always",
      scopes: ["openid", "profile", "email"],
      allow_existing_users: true,
      enable_registration: false,
      backchannel_logout_enabled: true,
      // PyYAML hands Synapse the Jinja templates untouched (braces are not YAML flow here).
      user_mapping_provider: { config: { localpart_template: "{{ user.preferred_username }}", display_name_template: "{{ user.name }}", email_template: "{{ user.email }}", confirm_localpart: false } },
    },
  ]);
  t.deepEqual(document.sso, { client_whitelist: [`https://${names.element}/`] });
  t.false(document.enable_registration);
  // Password login stays on for the provisioner's bot; members have no Synapse password.
  t.is(document.password_config, undefined);
});

test("identity off: no provider in homeserver.yaml, no client secret, and Element keeps its own login form", (t) => {
  const document = pyYamlLoad(homeserverText(withoutIdentity)) as any;
  t.is(document.oidc_providers, undefined);
  t.is(document.sso, undefined);
  t.false(blueprintOf(withoutIdentity).secrets.some((secret) => secret.name === MATRIX_SECRETS.oidcClient));
  const { [MATRIX_SECRETS.oidcClient]: _, ...withoutClientSecret } = FAKE_SECRETS;
  t.notThrows(() => filesOf(withoutIdentity, withoutClientSecret));
  const element = elementJson(withoutIdentity);
  t.deepEqual(check(elementSchema(withoutIdentity), element), []);
  t.false("sso_redirect_options" in element);
  t.false("logout_redirect_url" in element);
});

test("identity on without the client secret's value: an error naming the secret", (t) => {
  const { [MATRIX_SECRETS.oidcClient]: _, ...partial } = FAKE_SECRETS;
  const error = t.throws(() => filesOf(example, partial));
  t.regex(error!.message, /oidc-client/);
});

test("federation on (with a reason): a federation listener, no whitelist, and the server .well-known", (t) => {
  const text = homeserverText(federated);
  const document = parse(text, { version: "1.1" });
  t.deepEqual(check(homeserverSchema(federated), document), []);
  t.deepEqual(pyYamlLoad(text), document);
  t.false("federation_domain_whitelist" in document);
  t.false(document.allow_public_rooms_over_federation, "the room directory stays private even when federated");
  t.deepEqual(check(elementSchema(federated), elementJson(federated)), []);

  const [synapseRoute] = blueprintOf(federated).routes;
  t.deepEqual(synapseRoute!.staticJson, [
    { path: "/.well-known/matrix/client", body: { "m.homeserver": { base_url: "https://matrix.jardins-canal.localhost" } } },
    { path: "/.well-known/matrix/server", body: { "m.server": "matrix.jardins-canal.localhost:443" } },
  ]);
});

test("federation off: the schema for the federated case rejects the example, and the other way round", (t) => {
  // The schemas above are not vacuous: each refuses the other case's document.
  t.not(check(homeserverSchema(federated), parse(homeserverText(example), { version: "1.1" })).length, 0);
  t.not(check(homeserverSchema(example), parse(homeserverText(federated), { version: "1.1" })).length, 0);
  t.not(check(elementSchema(federated), elementJson(example)).length, 0);
});

test("federation cannot be turned on without a reason for the DPO's register", (t) => {
  const error = t.throws(() => exampleAssociation((input) => (input.services.matrix.federation = { enabled: true })));
  t.regex(error!.message, /reason/);
});

test("changed retention days reach the homeserver's retention and media retention", (t) => {
  const config = exampleAssociation((input) => (input.services.matrix.retention = { messagesDays: 30, mediaDays: 14 }));
  const document = parse(homeserverText(config), { version: "1.1" });
  t.deepEqual(check(homeserverSchema(config), document), []);
  t.is(document.retention.default_policy.max_lifetime, "30d");
  t.is(document.retention.allowed_lifetime_max, "30d");
  t.deepEqual(document.media_retention, { local_media_lifetime: "14d", remote_media_lifetime: "14d" });
  t.not(check(homeserverSchema(example), document).length, 0, "the example's schema expects 365d / 90d");
});

test("with Jitsi off, Element has no Jitsi domain and hides conference calls", (t) => {
  const config = exampleAssociation((input) => (input.services.jitsi = { enabled: false }));
  const element = elementJson(config);
  t.deepEqual(check(elementSchema(config), element), []);
  t.false("jitsi" in element);
  t.false(element.setting_defaults["UIFeature.voip"]);
});

// --- Hostile values cannot change the documents' structure.

const HOSTILE_NAME = `Les "Jardins" : #1 {{brand}} </script>\n- enable_registration: true\nallow_guest_access: yes`;

test("a hostile organisation name is data in config.json and never reaches homeserver.yaml", (t) => {
  // The config now refuses a line break in a name (test/config/text-and-addresses.test.ts);
  // set past validation, so that this layer is shown to hold on its own.
  const config = exampleAssociation((input) => {
    input.organisation.contact = "o'brien+chat@jardins-canal.localhost";
  });
  config.organisation.name = HOSTILE_NAME;
  t.is(elementJson(config).brand, HOSTILE_NAME);
  const text = homeserverText(config);
  const document = parse(text, { version: "1.1" });
  t.deepEqual(check(homeserverSchema(config), document), []);
  t.deepEqual(pyYamlLoad(text), document);
  t.is(document.admin_contact, "mailto:o'brien+chat@jardins-canal.localhost");
});

test("secret values that YAML 1.1 would retype or split stay exact strings for PyYAML", (t) => {
  const hostile = ["yes", "0755", "=", "~", "null", "1e3", "12:30", "a: b #c", "- x", `'"`, "line\nbreak"];
  for (const value of hostile) {
    const secrets = Object.fromEntries(Object.keys(FAKE_SECRETS).map((name) => [name, value]));
    const document = pyYamlLoad(homeserverText(example, secrets)) as any;
    t.is(document.registration_shared_secret, value, JSON.stringify(value));
    t.is(document.database.args.password, value, JSON.stringify(value));
    t.is(document.enable_registration, false);
  }
});

test("domains and sub-domains that could break YAML are refused before anything is generated", (t) => {
  const refused: ((input: Record<string, any>) => void)[] = [
    (input) => (input.domain = "evil.fr\nenable_registration: true"),
    (input) => (input.domain = "evil.fr: x"),
    (input) => (input.domain = "'evil.fr'"),
    (input) => (input.services.matrix.subdomain = "matrix #"),
    (input) => (input.services.matrix.elementSubdomain = "chat.evil"),
  ];
  for (const edit of refused) t.throws(() => exampleAssociation(edit));
  // Labels that YAML 1.1 reads as booleans or numbers still make string host names.
  const odd = exampleAssociation((input) => {
    input.domain = "on.no";
    input.services.matrix.subdomain = "yes";
  });
  const document = pyYamlLoad(homeserverText(odd)) as any;
  t.is(document.server_name, "yes.on.no");
  t.is(document.public_baseurl, "https://yes.on.no/");
});

// --- Secrets stay in files marked as holding them, or in secretEnv.

test("secrets appear only in homeserver.yaml (marked holdsSecrets) and in the database's secretEnv", (t) => {
  const blueprint = blueprintOf(example);
  const files = blueprint.files(FAKE_SECRETS);
  const values = Object.values(FAKE_SECRETS);
  const holding = files.filter((f) => values.some((v) => f.content.includes(v)));
  t.deepEqual(holding.map((f) => f.path), [SYNAPSE_CONFIG_PATH]);
  t.true(holding.every((f) => f.holdsSecrets));
  t.deepEqual(files.filter((f) => f.holdsSecrets).map((f) => f.path), [SYNAPSE_CONFIG_PATH]);
  for (const v of values) t.true(holding[0]!.content.includes(v), "every generated secret is used");

  const inClear = JSON.stringify({ containers: blueprint.containers.map(({ secretEnv, ...rest }) => rest), routes: blueprint.routes });
  for (const v of values) t.false(inClear.includes(v));
  const declared = new Set(blueprint.secrets.map((s) => s.name));
  t.deepEqual(containerOf(blueprint, "db").secretEnv, { POSTGRES_PASSWORD: MATRIX_SECRETS.databasePassword });
  for (const c of blueprint.containers) for (const name of Object.values(c.secretEnv ?? {})) t.true(declared.has(name), name);
  t.deepEqual([...declared].sort(), Object.values(MATRIX_SECRETS).sort());
});

test("a missing secret value is an error that names it, not an empty password", (t) => {
  const { [MATRIX_SECRETS.formSecret]: _, ...partial } = FAKE_SECRETS;
  const error = t.throws(() => blueprintOf(example).files(partial));
  t.regex(error!.message, /form-secret/);
});

// --- Containers, volumes, memory and routes.

test("three containers from pinned images, on the right networks, the database internal only", (t) => {
  const b = blueprintOf(example);
  t.deepEqual(
    b.containers.map((c) => [c.name, c.image, c.networks]),
    [
      ["db", IMAGES.postgres, ["internal"]],
      ["synapse", IMAGES.synapse, ["edge", "internal"]],
      ["element", IMAGES.element, ["edge"]],
    ],
  );
  t.deepEqual(containerOf(b, "synapse").dependsOn, ["db"]);
  t.true(b.containers.every((c) => (c.ports ?? []).length === 0), "nothing is published: the proxy reaches them");
  t.is(b.service, "matrix");
});

test("PostgreSQL is initialised with the C collation Synapse requires, for the user homeserver.yaml names", (t) => {
  const db = containerOf(blueprintOf(example), "db");
  t.is(db.env!.POSTGRES_INITDB_ARGS, "--encoding=UTF-8 --lc-collate=C --lc-ctype=C");
  const { database } = parse(homeserverText(example), { version: "1.1" });
  t.is(db.env!.POSTGRES_USER, database.args.user);
  t.is(db.env!.POSTGRES_DB, database.args.dbname);
  t.deepEqual(db.healthcheck!.test.slice(0, 2), ["CMD", "pg_isready"]);
  t.true(db.command!.includes("shared_buffers=64MB"));
  t.true(containerOf(blueprintOf(example, "standard"), "db").command!.includes("shared_buffers=128MB"));
});

test("Synapse starts from the uploaded config, with its data volume handed to its user", (t) => {
  const b = blueprintOf(example);
  const synapse = containerOf(b, "synapse") as any;
  t.is(synapse.env.SYNAPSE_CONFIG_PATH, SYNAPSE_CONFIG_PATH);
  t.deepEqual(synapse.files, ["/etc/synapse/homeserver.yaml", "/etc/synapse/log.config"]);
  t.deepEqual(synapse.volumes, [{ volume: "data", path: "/data" }]);
  t.deepEqual(synapse.entrypoint, SYNAPSE_ENTRYPOINT);
  const script = SYNAPSE_ENTRYPOINT[2]!;
  t.regex(script, /^chown 991:991 \/data \/etc\/synapse\/homeserver\.yaml && exec \/start\.py run$/);
  const sh = requireProgram("sh", "dash");
  const syntax = run(sh, ["-n", "-c", script]);
  t.is(syntax.status, 0, syntax.stderr);
  t.deepEqual(synapse.healthcheck.test, ["CMD", "curl", "-fSs", "http://localhost:8008/health"]);
  const homeserver = fileAt(b.files(FAKE_SECRETS), SYNAPSE_CONFIG_PATH);
  t.is(homeserver.mode, "0600");
});

test("every file a container expects is rendered for it, and every rendered file is uploaded", (t) => {
  const b = blueprintOf(example);
  const expected = b.containers.flatMap((c) => (c.files ?? []).map((path) => `${c.name}:${path}`)).sort();
  const rendered = b.files(FAKE_SECRETS).map((f) => `${f.container}:${f.path}`).sort();
  t.deepEqual(rendered, expected);
  t.true(expected.includes("element:/app/config.json"));
  const declared = b.volumes.map((v) => v.name).sort();
  t.deepEqual(b.containers.flatMap((c) => (c.volumes ?? []).map((v) => v.volume)).sort(), declared);
  t.deepEqual(declared, ["data", "db"]);
});

test("Element is checked on the port nginx listens on, with the tools its Alpine image has", (t) => {
  const element = containerOf(blueprintOf(example), "element");
  t.is(element.env!.ELEMENT_WEB_PORT, "80");
  t.deepEqual(element.healthcheck!.test, ["CMD", "wget", "-q", "--spider", "http://127.0.0.1:80/config.json"]);
});

test("memory: 832 MiB on the small profile, twice that on standard", (t) => {
  const total = (profile: "small" | "standard") =>
    blueprintOf(example, profile).containers.reduce((sum, c) => sum + c.memoryMb[profile], 0);
  t.true(total("small") <= 832);
  t.deepEqual(Object.fromEntries(blueprintOf(example).containers.map((c) => [c.name, c.memoryMb.small])), { db: 256, synapse: 512, element: 64 });
  t.is(total("standard"), 2 * total("small"));
});

test("routes: Synapse with admin paths kept to the VPN, Element framed by itself only", (t) => {
  const [synapse, element] = blueprintOf(example).routes;
  t.deepEqual(synapse, {
    host: "matrix.jardins-canal.localhost",
    upstream: "bastide-matrix-synapse:8008",
    vpnOnlyPaths: ["/_synapse/admin/*"],
    staticJson: [{ path: "/.well-known/matrix/client", body: { "m.homeserver": { base_url: "https://matrix.jardins-canal.localhost" } } }],
  });
  t.deepEqual(element, {
    host: "chat.jardins-canal.localhost",
    upstream: "bastide-matrix-element:80",
    headers: { "X-Frame-Options": "SAMEORIGIN", "Content-Security-Policy": "frame-ancestors 'self'" },
  });
});

test("the module follows services.matrix.enabled", (t) => {
  t.true(matrix.enabled(example));
  t.false(matrix.enabled(exampleAssociation((input) => (input.services.matrix.enabled = false))));
});

// --- Through the Pulumi program, under mocks.

test.serial("under Pulumi mocks, homeserver.yaml is uploaded as a secret built from the generated secrets", async (t) => {
  const resources = await deployUnderMocks(example);
  const synapse = ofType(resources, CONTAINER).find((c) => c.inputs.name === "bastide-matrix-synapse")!;
  t.true(synapse.secretInputs.includes("uploads"));
  const upload = synapse.inputs.uploads.find((u: any) => u.file === SYNAPSE_CONFIG_PATH);
  const document = pyYamlLoad(upload.content) as any;
  t.is(document.database.args.password, "<secret:matrix-db-password>");
  t.is(document.registration_shared_secret, "<secret:matrix-registration-shared-secret>");
  t.is(document.enable_registration, false);

  const db = ofType(resources, CONTAINER).find((c) => c.inputs.name === "bastide-matrix-db")!;
  t.true(db.inputs.envs.includes("POSTGRES_PASSWORD=<secret:matrix-db-password>"));
  const volumes = ofType(resources, VOLUME).filter((v) => String(v.inputs.name).startsWith("bastide-matrix-"));
  t.deepEqual(volumes.map((v) => v.inputs.name).sort(), ["bastide-matrix-data", "bastide-matrix-db"]);
  t.true(volumes.every((v) => v.protect && v.retainOnDelete));
});

test("Element's Help & About lists the members' information notice the proxy serves on Element's name, in both languages", (t) => {
  const links = elementJson(example).terms_and_conditions_links as { text: string; url: string }[];
  const host = hostnames(example).element;
  t.deepEqual(
    links.map((l) => l.url),
    [`https://${host}/confidentialite/membres.html`, `https://${host}/privacy/members.html`],
  );
  for (const link of links) t.true(link.text.length > 0, link.url);
  // The proxy answers exactly these paths.
  const served = noticePages(example).map((p) => `https://${host}${p.path}`);
  for (const link of links) t.true(served.includes(link.url), link.url);
});

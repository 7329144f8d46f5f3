// Reads the containers back through the Docker engine: how each container labelled
// bastide.service was created (inspect), and the rendered files inside them (`cat`
// through exec). Files holding secrets are reduced to facts here and their text dropped.
import type Docker from "dockerode";
import { execInContainer, describeDockerError } from "../../provisioners/runtime/docker.ts";
import { AUDITED_ENV, type DeclaredFile } from "./declared.ts";
import type { ContainerFacts } from "./observed.ts";
import { findContainer } from "./rules.ts";

export const SERVICE_LABEL = "bastide.service";
export const CONTAINER_LABEL = "bastide.container";

/** A `cat` or `occ` answers within this; a wedged container must not hang the audit. */
export const AUDIT_EXEC_TIMEOUT_MS = 20_000;

export interface DockerSource {
  docker: Docker;
  /** Extra label filters (`key=value`): tests see only their own containers with it. */
  labels?: string[];
}

const stripSlash = (name: string) => name.replace(/^\//, "");

/** Every container labelled bastide.service, running or not. */
export async function readContainers(source: DockerSource): Promise<ContainerFacts[]> {
  let listed: Docker.ContainerInfo[];
  try {
    listed = await source.docker.listContainers({ all: true, filters: { label: [SERVICE_LABEL, ...(source.labels ?? [])] } });
  } catch (error) {
    throw new Error(`the Docker engine did not answer: ${describeDockerError(error)}`);
  }
  const images = new Map<string, Promise<string[]>>();
  const referencesOf = (id: string) => {
    if (!images.has(id)) {
      images.set(
        id,
        source.docker
          .getImage(id)
          .inspect()
          .then((image) => [...(image.RepoTags ?? []), ...(image.RepoDigests ?? [])].filter((r) => !r.startsWith("<none>")))
          // An image removed since the container was created: the container still runs.
          .catch(() => []),
      );
    }
    return images.get(id)!;
  };
  return Promise.all(
    listed.map(async (info) => {
      const c = await source.docker.getContainer(info.Id).inspect();
      const host = c.HostConfig;
      const env = Object.fromEntries(
        (c.Config.Env ?? [])
          .map((entry) => [entry.slice(0, entry.indexOf("=")), entry.slice(entry.indexOf("=") + 1)] as const)
          // Only the audited variables are kept; the others may be passwords.
          .filter(([key]) => (AUDITED_ENV as readonly string[]).includes(key)),
      );
      return {
        id: c.Id,
        name: stripSlash(c.Name),
        service: c.Config.Labels?.[SERVICE_LABEL] ?? "",
        shortName: c.Config.Labels?.[CONTAINER_LABEL] ?? "",
        running: c.State.Running === true,
        image: c.Config.Image,
        imageReferences: await referencesOf(c.Image),
        logDriver: host.LogConfig?.Type ?? "",
        logOptions: { ...(host.LogConfig?.Config ?? {}) },
        privileged: host.Privileged === true,
        securityOptions: host.SecurityOpt ?? [],
        addedCapabilities: host.CapAdd ?? [],
        memoryBytes: host.Memory ?? 0,
        memorySwapBytes: host.MemorySwap ?? 0,
        volumes: (c.Mounts ?? []).filter((m) => m.Type === "volume" && m.Name).map((m) => ({ name: m.Name!, path: m.Destination })),
        env,
      } satisfies ContainerFacts;
    }),
  );
}

/** The container of a declared file, among those read; its id is what exec needs. */
export function containerFor(all: readonly ContainerFacts[], file: Pick<DeclaredFile, "service" | "name" | "container">): ContainerFacts {
  const found = findContainer(all, file.service, file.name);
  if (!found) throw new Error(`no container labelled ${SERVICE_LABEL}=${file.service}, ${CONTAINER_LABEL}=${file.name} (${file.container})`);
  if (!found.running) throw new Error(`container ${file.container} is not running`);
  return found;
}

/** A file's text, read with `cat` inside its container. */
export async function readFileIn(docker: Docker, all: readonly ContainerFacts[], file: DeclaredFile): Promise<string> {
  const container = containerFor(all, file);
  const result = await execInContainer(docker, container.id, ["cat", file.path], { timeoutMs: AUDIT_EXEC_TIMEOUT_MS });
  if (result.exitCode !== 0) {
    const why = result.stderr.trim().split("\n")[0]?.slice(0, 200) || `exit ${result.exitCode}`;
    throw new Error(`cannot read ${file.path} in ${file.container}: ${why}`);
  }
  return result.stdout;
}

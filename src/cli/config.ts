/**
 * `config get|list|set`: keys in kebab-case or snake_case, values validated.
 * @module
 */

import {
  CONFIG_KEYS,
  configField,
  configHelp,
  normalizeConfigKey,
  validateConfigValue,
} from "../core/config.ts";
import { withStore } from "./context.ts";
import type { Program } from "./mod.ts";
import { dim, out, printJson, printTable } from "./output.ts";

/** Registers `config`. */
export function registerConfig(program: Program): void {
  const config = program.command("config").description(
    "settings shared by every worker on this database",
  );

  config.command("get")
    .alias("list")
    .description("show every setting, or one key's value")
    .argument("[key]", `one of ${CONFIG_KEYS.join(", ")}`)
    .option("--json", "print JSON")
    .action(async (key, options, command) => {
      const wanted = key === undefined ? undefined : normalizeConfigKey(key);
      await withStore(command.optsWithGlobals(), async (store) => {
        const effective = await store.getConfig();
        const stored = await store.getConfigRows();
        const value = (k: typeof CONFIG_KEYS[number]) => effective[configField(k)];
        if (wanted) {
          if (options.json) {
            return printJson({ key: wanted, value: value(wanted), default: !stored.has(wanted) });
          }
          return out(String(value(wanted) ?? "default"));
        }
        if (options.json) {
          return printJson(Object.fromEntries(CONFIG_KEYS.map((k) => [k, value(k)])));
        }
        printTable(
          ["KEY", "VALUE", "", "MEANING"],
          CONFIG_KEYS.map((
            k,
          ) => [
            k,
            String(value(k) ?? "default"),
            stored.has(k) ? "" : dim("(default)"),
            configHelp(k),
          ]),
        );
      });
    });

  config.command("set")
    .description('change a setting (value "default" for shell restores the platform shell)')
    .argument("<key>", `one of ${CONFIG_KEYS.join(", ")}`)
    .argument("<value>", "the new value")
    .action(async (key, value, _options, command) => {
      const name = normalizeConfigKey(key);
      const stored = validateConfigValue(name, value);
      await withStore(command.optsWithGlobals(), async (store) => {
        await store.setConfig(name, stored);
        out(`${name} = ${stored === "" ? "default" : stored}`);
      });
    });
}

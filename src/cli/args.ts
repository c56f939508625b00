/**
 * Parsers for option values: they throw commander's InvalidArgumentError so
 * the message becomes one line and exit code 2.
 * @module
 */

import { InvalidArgumentError } from "@commander-js/extra-typings";
import { JOB_STATES, type JobState } from "../core/types.ts";

/** A whole number from 1 to `max`. */
export function positiveInt(max: number) {
  return (text: string): number => {
    if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > max) {
      throw new InvalidArgumentError(`Expected a whole number from 1 to ${max}.`);
    }
    return Number(text);
  };
}

/** A job state name. */
export function jobState(text: string): JobState {
  if (!(JOB_STATES as readonly string[]).includes(text)) {
    throw new InvalidArgumentError(`Valid states: ${JOB_STATES.join(", ")}.`);
  }
  return text as JobState;
}

import { badRequest, OperationOutcomeError } from '@medplum/core';
import type { Organization, ProjectSetting, Reference } from '@medplum/fhirtypes';

/**
 * Bot configuration, read from the Project secrets that Medplum hands every bot run
 * (`event.secrets`). See docs/configuration.md for each setting.
 */
export interface BotConfig {
  /** `STRIPE_WEBHOOK_SECRET`: one or several `whsec_…`, comma-separated (rotation). */
  readonly webhookSecrets: readonly string[];
  /** `PAYEE_ORGANIZATION`: the clinic that Stripe pays, e.g. `Organization/123`. */
  readonly payee?: Reference<Organization>;
  /** `STRIPE_OPERATORS`: references allowed to post unsigned events (replays). */
  readonly operators: readonly string[];
  /** `STRIPE_LIVEMODE`: unset accepts both modes. */
  readonly livemode?: boolean;
}

export const SECRET_NAME = {
  webhookSecret: 'STRIPE_WEBHOOK_SECRET',
  payee: 'PAYEE_ORGANIZATION',
  operators: 'STRIPE_OPERATORS',
  livemode: 'STRIPE_LIVEMODE',
} as const;

type Secrets = Record<string, ProjectSetting> | undefined;

function secretText(secrets: Secrets, name: string): string | undefined {
  const value = secrets?.[name]?.valueString?.trim();
  return value ? value : undefined;
}

/**
 * Only what telling Stripe from an operator needs (webhook secrets, operators). It never throws, so
 * that a typo in another setting cannot stop a verified event from reaching the archive.
 */
export function readSenderConfig(secrets: Secrets): Pick<BotConfig, 'webhookSecrets' | 'operators'> {
  return {
    webhookSecrets: parseWebhookSecrets(secretText(secrets, SECRET_NAME.webhookSecret)),
    operators: (secretText(secrets, SECRET_NAME.operators) ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  };
}

/** The whole configuration; a malformed setting throws a 400 "Configuration error: …" naming it. */
export function readConfig(secrets: Secrets): BotConfig {
  const payee = secretText(secrets, SECRET_NAME.payee);
  if (payee !== undefined && !/^Organization\/[A-Za-z0-9\-.]{1,64}$/.test(payee)) {
    throw configError(
      `${SECRET_NAME.payee} must be a reference such as "Organization/123", not "${payee.slice(0, 80)}"`
    );
  }
  return {
    ...readSenderConfig(secrets),
    ...(payee && { payee: { reference: payee } }),
    ...readLivemode(secrets?.[SECRET_NAME.livemode]),
  };
}

function readLivemode(setting: ProjectSetting | undefined): { livemode?: boolean } {
  if (setting?.valueBoolean !== undefined) {
    return { livemode: setting.valueBoolean };
  }
  const value = setting?.valueString?.trim().toLowerCase();
  if (!value) {
    return {};
  }
  if (value !== 'true' && value !== 'false') {
    throw configError(
      `${SECRET_NAME.livemode} must be "true" or "false" (or unset to accept both modes), not "${value.slice(0, 20)}"`
    );
  }
  return { livemode: value === 'true' };
}

export function configError(message: string): OperationOutcomeError {
  return new OperationOutcomeError(badRequest(`Configuration error: ${message}`));
}

/**
 * Parses a comma-separated list of webhook signing secrets (`whsec_…`), as configured in
 * `STRIPE_WEBHOOK_SECRET`. Several secrets allow rotation: list the new secret and the old one
 * until Stripe stops signing with the old one. Entries are trimmed; empty entries are dropped.
 */
export function parseWebhookSecrets(value: string | undefined): string[] {
  if (value === undefined) {
    return [];
  }
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

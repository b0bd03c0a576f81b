/** Help text of `bellwether models` (kept apart so `bellwether help` loads nothing heavy). */
export const REGISTRY_COMMANDS_USAGE = `Registry commands (BW_MODELS_DIR, or --models-dir DIR):
  bellwether models list [--json]                    versions, the live one, the shadow one
  bellwether models promote churn|intent VERSION     make VERSION live; a running engine reloads it
  bellwether models shadow churn|intent VERSION|--off
                                                     score VERSION beside the live model (never alerts)`;

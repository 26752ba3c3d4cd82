export * from "./appEnvironment";
export * from "./appNamespace";
export * from "./blueGreenApp";
export * from "./colorDeployment";
export * from "./colors";
export * from "./config";
export * from "./loadConfig";
export * from "./migrationTarget";

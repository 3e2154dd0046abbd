/** Route schemas shared by several domains. A declared response is an allowlist: nothing else leaves. */
import { ERROR_CODES } from "@coffer/protocol";
import { Type } from "typebox";

export const ErrorResponse = Type.Object(
  {
    error: Type.Object({
      code: Type.Union(Object.keys(ERROR_CODES).map((code) => Type.Literal(code))),
      message: Type.String(),
      requestId: Type.String(),
    }),
  },
  { $id: "ErrorResponse", description: "Every error: a stable code, a message for people, and the request id." },
);

export const errorResponses = {
  "4xx": Type.Ref("ErrorResponse"),
  "5xx": Type.Ref("ErrorResponse"),
};

export const WorkspaceParams = Type.Object({ workspace: Type.String({ description: "Workspace id or name" }) });

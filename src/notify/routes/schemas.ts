import { Type } from 'typebox';

/** The channels a notification goes over, as every notify route names them. */
export const ChannelSchema = Type.Union([Type.Literal('email'), Type.Literal('push'), Type.Literal('sms')]);
